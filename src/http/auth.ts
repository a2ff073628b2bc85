import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ApiError } from './errors';

/** What a key may do: send messages, read state, operate (dead letters, dashboard). */
export type Permission = 'send' | 'read' | 'admin';
export const PERMISSIONS: Permission[] = ['send', 'read', 'admin'];

export interface ApiKey {
  key: string;
  permissions: Set<Permission>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * `GATEWAY_API_KEYS=k1,k2:send,k3:read+admin`: a key without a list may do
 * everything. Parsing lives here so config and auth agree on the format.
 */
export function parseApiKey(entry: string): ApiKey | string {
  const [key, list] = entry.split(':', 2);
  if (!key || key.length < 8) return 'a key must be at least 8 characters';
  if (list === undefined) return { key, permissions: new Set(PERMISSIONS) };
  const permissions = list.split('+').map((p) => p.trim());
  const unknown = permissions.filter((p) => !PERMISSIONS.includes(p as Permission));
  if (unknown.length > 0) return `unknown permission ${unknown.join(', ')} (use ${PERMISSIONS.join(', ')})`;
  return { key, permissions: new Set(permissions as Permission[]) };
}

/** The key a request presents: `Authorization: Bearer KEY`, or Basic with the key as password (for browsers). */
export function presentedKey(req: Request): string | undefined {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1) || undefined;
  }
  return undefined;
}

/**
 * Checks the caller's key in constant time (digests have equal length, so
 * timingSafeEqual never leaks the key length) and its permission. With no keys
 * configured only loopback callers are served, with every permission.
 */
export class ApiKeys {
  private readonly digests: { digest: Buffer; key: ApiKey }[];

  constructor(keys: ApiKey[]) {
    this.digests = keys.map((key) => ({ digest: digest(key.key), key }));
  }

  find(presented: string | undefined): ApiKey | undefined {
    if (presented === undefined) return undefined;
    const given = digest(presented);
    let found: ApiKey | undefined;
    for (const entry of this.digests) if (timingSafeEqual(entry.digest, given)) found = entry.key;
    return found;
  }

  require(permission: Permission, options: { basicRealm?: boolean } = {}): RequestHandler {
    return (req, res, next) => {
      if (this.digests.length === 0) {
        if (LOOPBACK.has(req.socket.remoteAddress ?? '')) return next();
        return next(new ApiError(401, 'unauthorized', 'no GATEWAY_API_KEYS configured: only loopback callers are accepted'));
      }
      const presented = presentedKey(req);
      const key = this.find(presented);
      if (!key) {
        if (options.basicRealm) res.setHeader('WWW-Authenticate', 'Basic realm="wecom-gateway", charset="UTF-8"');
        return next(new ApiError(401, 'unauthorized', presented ? 'unknown key' : 'missing key (Authorization: Bearer KEY)'));
      }
      if (!key.permissions.has(permission)) return next(new ApiError(403, 'forbidden', `this key may not ${permission}`));
      res.locals.apiKey = key.key;
      return next();
    };
  }
}
