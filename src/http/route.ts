import type { Permission } from './auth';
import type { Request, RequestHandler } from 'express';
import { ApiError } from './errors';

/**
 * A route as openapi.yaml names it (`/v1/messages/{id}`). Modules export lists
 * of these; the app mounts them and a test checks the list against openapi.yaml.
 */
export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  /** The permission a /v1 key needs (GATEWAY_API_KEYS); `none`: public (health, WeCom callbacks, docs). */
  auth: Permission | 'none';
  /**
   * `json` (default) parses a JSON body with the configured limit; `text` gives the raw body as a string (WeCom's XML);
   * `own`: the route reads its body itself (the WeCom-compatible API: any content type, multipart uploads).
   */
  body?: 'json' | 'text' | 'own';
  /** Who is calling, when the route knows callers otherwise than by an API key (a gateway token): sets res.locals.caller. */
  authenticate?: RequestHandler;
  handler: RequestHandler;
}

/**
 * Operators' pages and their assets (dashboard, bull-board, Swagger UI, the alert's member page), as
 * opposed to API calls. Mounted pages see a shortened req.url: pass originalUrl.
 */
export const isPageAsset = (url: string | undefined) => /^\/(dashboard|docs|alerts)(\/|$|\?)/.test(url ?? '');

/** `/v1/messages/{id}` -> `/v1/messages/:id` */
export function toExpressPath(path: string): string {
  return path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}

/**
 * One query parameter as the caller wrote it, once. Express makes `?a=1&a=2` an
 * array: a caller's mistake to name, not something to pick from or to crash on.
 */
export function queryParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || typeof value === 'string') return value;
  throw new ApiError(400, 'invalid_request', `query parameter ${name} is given more than once`, [
    { field: `query.${name}`, message: 'give it once' },
  ]);
}

/** `?limit=`: a whole number from 1 to `max` (openapi.yaml: minimum 1, maximum 1000, default 100); absent or empty = `fallback`. */
export function limitParam(req: Request, fallback = 100, max = 1000): number {
  const text = queryParam(req, 'limit');
  if (text === undefined || text === '') return fallback;
  const limit = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= max))
    throw new ApiError(400, 'invalid_request', `limit must be a whole number from 1 to ${max}`, [
      { field: 'query.limit', message: `a whole number from 1 to ${max}` },
    ]);
  return limit;
}

/** Whether a request carries a body at all (as body-parser decides: a Content-Length above 0, or chunks). */
function hasBody(req: Request): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
  );
}

/**
 * A JSON route's body must say it is JSON: express.json passes any other type by,
 * and the route would then see no body at all. `curl -d` sends form encoding unless
 * told otherwise, the commonest way to meet this. The header's value is not repeated back.
 */
export const jsonBodyOnly: RequestHandler = (req, _res, next) => {
  if (!hasBody(req) || req.is('application/json')) return next();
  const message =
    'the body must be JSON: send JSON with Content-Type: application/json (curl -d sends ' +
    "application/x-www-form-urlencoded unless given -H 'content-type: application/json')";
  next(new ApiError(415, 'unsupported_media_type', message, [{ field: 'Content-Type', message: 'application/json' }]));
};

/**
 * The methods each known path takes (`Allow`), for an answer to a method it does
 * not take: 405 naming them says more than a 404 that the path does not exist.
 * Paths match as express matches them: any case, a trailing slash allowed.
 */
export function methodNotAllowed(routes: Pick<Route, 'method' | 'path'>[]): RequestHandler {
  const paths = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const route of routes) {
    const known = paths.get(route.path) ?? { pattern: pathPattern(route.path), methods: new Set<string>() };
    known.methods.add(route.method.toUpperCase());
    // Express answers HEAD wherever it answers GET.
    if (route.method === 'get') known.methods.add('HEAD');
    paths.set(route.path, known);
  }
  // `/v1/messages/preview` before `/v1/messages/{id}`: a path names the route that spells it out.
  const byLiteralsFirst = [...paths.entries()].sort(([a], [b]) => a.split('{').length - b.split('{').length);
  return (req, res, next) => {
    const known = byLiteralsFirst.find(([, { pattern }]) => pattern.test(req.path));
    if (!known) return next();
    const [path, { methods }] = known;
    const allow = [...methods].join(', ');
    res.setHeader('Allow', allow);
    next(
      new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; it takes ${allow}`, [
        { field: '(method)', message: `one of ${allow}` },
      ]),
    );
  };
}

function pathPattern(path: string): RegExp {
  const escaped = path
    .split(/\{[A-Za-z0-9_]+\}/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${escaped}/?$`, 'i');
}
