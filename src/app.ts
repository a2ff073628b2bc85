import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import swaggerUi from 'swagger-ui-express';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import helmet from 'helmet';
import { accessLog, type AccessLogOptions } from './http/access-log';
import { ApiKeys, type ApiKey, type FailedAuthGuard, type Permission } from './http/auth';
import { ApiError, errorHandler } from './http/errors';
import { isPageAsset, jsonBodyOnly, methodNotAllowed, toExpressPath, type Route } from './http/route';
import { parseTrustProxy } from './http/trust-proxy';
import type { Metrics } from './ops/metrics';
import { OPENAPI_PATH } from './ops/routes';
import { AuthFailureThrottle, DEFAULT_AUTH_FAILURES_PER_MINUTE } from './http/rate-limit';

export interface AppOptions {
  routes: Route[];
  apiKeys: ApiKey[];
  /**
   * Pages mounted whole (the dashboard), behind a permission; browsers are asked for the key (Basic).
   * `none`: a page that identifies its readers itself (the alert's member page: WeCom's web login).
   */
  pages?: { path: string; permission: Permission | 'none'; router: express.Router }[];
  /** Runs after authentication on /v1 routes (per-key rate limit). */
  rateLimit?: RequestHandler;
  /**
   * Counts wrong keys per source address (shared through Redis by the gateway);
   * absent, each app counts in memory with the default limit.
   */
  authFailures?: FailedAuthGuard;
  /** The key checker, when the gateway shares it with another protocol's routes (/cgi-bin/); absent, built from the two above. */
  keys?: ApiKeys;
  bodyLimit: string;
  logger: Logger;
  metrics: Metrics;
  /** How successful requests are logged (default: every one, at info). */
  accessLog?: AccessLogOptions;
  /** Paths that answer in a protocol of their own (WeCom's /cgi-bin/): what no route took there, and errors there. */
  protocols?: { path: string; unmatched: RequestHandler; errors: ErrorRequestHandler }[];
  /** Express `trust proxy`: only behind a known proxy may X-Forwarded-For name the caller. */
  trustProxy?: string;
}

const API_HEADERS: [string, string][] = [
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
];

/** Where a person who opens the gateway's address goes next. Links only: nothing here needs a key. */
const HOME_LINKS = {
  console: '/dashboard/',
  docs: '/docs',
  openapi: '/openapi.yaml',
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
};

/** `GET /`: a browser gets a page of links (the console, the API docs, health); an API client the same links as JSON. */
const home: RequestHandler = (req, res) => {
  if (req.accepts(['json', 'html']) !== 'html') return void res.json({ name: 'wecom-gateway', links: HOME_LINKS });
  const item = (href: string, text: string) => `<li><a href="${href}">${text}</a></li>`;
  res
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>wecom-gateway</title></head><body><h1>wecom-gateway</h1><ul>${[
        item(HOME_LINKS.console, 'Console: messages, queues, playground (an admin key)'),
        item(HOME_LINKS.docs, 'API docs'),
        item(HOME_LINKS.openapi, 'openapi.yaml'),
        item(HOME_LINKS.health, 'Health'),
        item(HOME_LINKS.ready, 'Readiness'),
        item(HOME_LINKS.metrics, 'Metrics'),
      ].join('')}</ul></body></html>`,
    );
};

/** The express app: request ids and logs, metrics, auth and body parsing per route, errors as JSON. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag on answers: nobody revalidates a 202 or a status read, and each would cost a hash of the body (static assets keep theirs).
  app.set('etag', false);
  app.set('trust proxy', parseTrustProxy(options.trustProxy));
  // Pages get helmet's set; an API answer is JSON that no browser should render, frame or sniff: four fixed headers say so.
  // Not helmet's https parts: the gateway speaks plain HTTP, and over it from any address but loopback upgrade-insecure-requests
  // sends the page's CSS and scripts to an https port nobody serves; HSTS is the TLS proxy's to send (docs/security.md).
  // Styles and fonts from the gateway only (helmet allows any https: source): bull-board's page links Google Fonts, which an
  // offline console cannot reach and which would tell Google who opens it; its text falls back to the system font.
  const plainHttp = { strictTransportSecurity: false } as const;
  const pageHeaders = helmet({
    ...plainHttp,
    contentSecurityPolicy: {
      directives: { upgradeInsecureRequests: null, styleSrc: ["'self'", "'unsafe-inline'"], fontSrc: ["'self'", 'data:'] },
    },
  });
  const docsHeaders = helmet({ ...plainHttp, contentSecurityPolicy: false }); // Swagger UI needs its inline styles
  app.use((req, res, next) => {
    if (!isPageAsset(req.url)) {
      for (const [name, value] of API_HEADERS) res.setHeader(name, value);
      return next();
    }
    return (req.url.startsWith('/docs') ? docsHeaders : pageHeaders)(req, res, next);
  });
  app.use(accessLog(options.logger, options.metrics, options.accessLog ?? { level: 'info', sample: 1 }));

  const json = express.json({ limit: options.bodyLimit });
  // WeCom posts XML, sometimes without a content type: read any body as text, before any JSON parser.
  // Its pushes are a few KB (a 2,048-byte text message, base64 and encrypted): 64 KB is ample, and caps what a stranger makes us read.
  const text = express.text({ type: () => true, limit: '64kb' });
  const keys =
    options.keys ??
    new ApiKeys(options.apiKeys, options.authFailures ?? new AuthFailureThrottle({ failures: DEFAULT_AUTH_FAILURES_PER_MINUTE }));
  for (const route of options.routes) {
    const chain: RequestHandler[] = [];
    const authenticate = route.authenticate ?? (route.auth !== 'none' ? keys.require(route.auth) : undefined);
    if (authenticate) {
      chain.push(authenticate);
      if (options.rateLimit) chain.push(options.rateLimit);
    }
    if (route.method !== 'get' && route.body !== 'own') chain.push(...(route.body === 'text' ? [text] : [jsonBodyOnly, json]));
    app[route.method](toExpressPath(route.path), ...chain, route.handler);
  }

  for (const page of options.pages ?? [])
    if (page.permission === 'none') app.use(page.path, page.router);
    else app.use(page.path, keys.require(page.permission, { basicRealm: true }), page.router);

  const spec = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as swaggerUi.JsonObject;
  app.use('/docs', swaggerUi.serve);
  app.get('/docs', swaggerUi.setup(spec, { customSiteTitle: 'wecom-gateway API' }));
  app.get('/', home);

  // A path answered in another protocol (WeCom's /cgi-bin/): its own answer to what no route took, and to every error.
  for (const protocol of options.protocols ?? []) app.use(protocol.path, protocol.unmatched, protocol.errors);
  // A known path asked with another method: 405 and the methods it takes. Anything else: JSON 404.
  app.use(methodNotAllowed([...options.routes, { method: 'get', path: '/' }, { method: 'get', path: '/docs' }]));
  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(options.logger));
  return app;
}
