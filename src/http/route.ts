import type { Permission } from './auth';
import type { RequestHandler } from 'express';

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

/** `/v1/messages/{id}` -> `/v1/messages/:id` */
export function toExpressPath(path: string): string {
  return path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}
