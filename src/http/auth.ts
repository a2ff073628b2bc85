import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError } from './errors';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Bearer keys from GATEWAY_API_KEYS, compared in constant time (digests have
 * equal length, so timingSafeEqual never leaks the key length). With no keys
 * configured only loopback callers are served.
 */
export function requireApiKey(keys: string[]): RequestHandler {
  const digests = keys.map(digest);
  return (req, _res, next) => {
    if (digests.length === 0) {
      if (LOOPBACK.has(req.socket.remoteAddress ?? '')) return next();
      return next(new ApiError(401, 'unauthorized', 'no GATEWAY_API_KEYS configured: only loopback callers are accepted'));
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) return next(new ApiError(401, 'unauthorized', 'missing bearer key (Authorization: Bearer KEY)'));
    const given = digest(match[1]);
    let ok = false;
    for (const known of digests) ok = timingSafeEqual(known, given) || ok;
    return ok ? next() : next(new ApiError(401, 'unauthorized', 'unknown key'));
  };
}
