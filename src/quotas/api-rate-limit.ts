import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClient } from '../redis/scripts';
import { ApiError } from '../http/errors';

/**
 * Requests per minute per API key (per address for keyless loopback callers),
 * counted in Redis so every instance shares the budget. While Redis is away the
 * limiter lets requests through: the route itself answers 503 then.
 */
export function rateLimitPerKey(redis: RedisClient, keyPrefix: string, perMinute: number): RequestHandler {
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix, points: perMinute, duration: 60 });
  return (req, res, next) => {
    // A digest names the key's bucket: two keys never share one, and Redis never holds a key.
    const who = typeof res.locals.apiKey === 'string' ? `key:${createHash('sha256').update(res.locals.apiKey).digest('hex').slice(0, 32)}` : `ip:${req.ip}`;
    limiter.consume(who).then(
      () => next(),
      (rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) return next();
        res.setHeader('Retry-After', String(Math.ceil(rejection.msBeforeNext / 1000)));
        next(new ApiError(429, 'rate_limited', `more than ${perMinute} requests a minute for this key; retry later`));
      },
    );
  };
}
