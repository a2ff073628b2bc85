import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import swaggerUi from 'swagger-ui-express';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import helmet from 'helmet';
import { accessLog, type AccessLogOptions } from './http/access-log';
import { ApiKeys, type ApiKey, type FailedAuthGuard, type Permission } from './http/auth';
import { ApiError, errorHandler } from './http/errors';
import { isPageAsset, toExpressPath, type Route } from './http/route';
import type { Metrics } from './ops/metrics';
import { OPENAPI_PATH } from './ops/routes';
import { AuthFailureThrottle, DEFAULT_AUTH_FAILURES_PER_MINUTE } from './quotas/api-rate-limit';

export interface AppOptions {
  routes: Route[];
  apiKeys: ApiKey[];
  /** Pages mounted whole (the dashboard), behind a permission; browsers are asked for the key (Basic). */
  pages?: { path: string; permission: Permission; router: express.Router }[];
  /** Runs after authentication on /v1 routes (per-key rate limit). */
  rateLimit?: RequestHandler;
  /**
   * Counts wrong keys per source address (shared through Redis by the gateway);
   * absent, each app counts in memory with the default limit.
   */
  authFailures?: FailedAuthGuard;
  bodyLimit: string;
  logger: Logger;
  metrics: Metrics;
  /** How successful requests are logged (default: every one, at info). */
  accessLog?: AccessLogOptions;
  /** Express `trust proxy`: only behind a known proxy may X-Forwarded-For name the caller. */
  trustProxy?: string;
}

/** TRUST_PROXY: a hop count ("1"), "true", or addresses/subnets ("loopback, 10.0.0.0/8"). */
function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}

const API_HEADERS: [string, string][] = [
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
];

/** The express app: request ids and logs, metrics, auth and body parsing per route, errors as JSON. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag on answers: nobody revalidates a 202 or a status read, and each would cost a hash of the body (static assets keep theirs).
  app.set('etag', false);
  app.set('trust proxy', parseTrustProxy(options.trustProxy));
  // Pages get helmet's full set; an API answer is JSON that no browser should render, frame or sniff: four fixed headers say so.
  const pageHeaders = helmet();
  const docsHeaders = helmet({ contentSecurityPolicy: false }); // Swagger UI needs its inline styles
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
  const keys = new ApiKeys(options.apiKeys, options.authFailures ?? new AuthFailureThrottle({ failures: DEFAULT_AUTH_FAILURES_PER_MINUTE }));
  for (const route of options.routes) {
    const chain: RequestHandler[] = [];
    if (route.auth !== 'none') {
      chain.push(keys.require(route.auth));
      if (options.rateLimit) chain.push(options.rateLimit);
    }
    if (route.method !== 'get') chain.push(route.body === 'text' ? text : json);
    app[route.method](toExpressPath(route.path), ...chain, route.handler);
  }

  for (const page of options.pages ?? []) app.use(page.path, keys.require(page.permission, { basicRealm: true }), page.router);

  const spec = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as swaggerUi.JsonObject;
  app.use('/docs', swaggerUi.serve);
  app.get('/docs', swaggerUi.setup(spec, { customSiteTitle: 'wecom-gateway API' }));

  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(options.logger));
  return app;
}
