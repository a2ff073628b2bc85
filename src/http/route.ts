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
  /** `json` (default) parses a JSON body with the configured limit; `text` gives the raw body as a string (WeCom's XML). */
  body?: 'json' | 'text';
  handler: RequestHandler;
}

/** Operators' pages and their assets (dashboard, bull-board, Swagger UI), as opposed to API calls. Mounted pages see a shortened req.url: pass originalUrl. */
export const isPageAsset = (url: string | undefined) => /^\/(dashboard|docs)(\/|$|\?)/.test(url ?? '');

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
  throw new ApiError(400, 'invalid_request', `query parameter ${name} is given more than once`, [{ field: `query.${name}`, message: 'give it once' }]);
}

/** `?limit=`: a whole number from 1 to `max` (openapi.yaml: minimum 1, maximum 1000, default 100); absent or empty = `fallback`. */
export function limitParam(req: Request, fallback = 100, max = 1000): number {
  const text = queryParam(req, 'limit');
  if (text === undefined || text === '') return fallback;
  const limit = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= max)) throw new ApiError(400, 'invalid_request', `limit must be a whole number from 1 to ${max}`, [{ field: 'query.limit', message: `a whole number from 1 to ${max}` }]);
  return limit;
}
