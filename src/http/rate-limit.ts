import type { RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisClient } from '../redis/connection';
import { callerOf, LOCAL_CALLER, type FailedAuthGuard } from './auth';
import { ApiError } from './errors';

/**
 * Requests per minute per API key (per address for keyless loopback callers),
 * counted in Redis so every instance shares the budget. While Redis is away the
 * limiter lets requests through: the route itself answers 503 then.
 */
export function rateLimitPerKey(redis: RedisClient, keyPrefix: string, perMinute: number): RequestHandler {
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix, points: perMinute, duration: 60 });
  return (req, res, next) => {
    // The caller's id names the key's bucket: two keys never share one, and Redis never holds a key.
    const caller = callerOf(res);
    const who = caller.id === LOCAL_CALLER.id ? `ip:${req.ip}` : `key:${caller.id}`;
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

/** AUTH_FAILURES_PER_MINUTE's default, for an app built without the gateway's settings. */
export const DEFAULT_AUTH_FAILURES_PER_MINUTE = 10;

/**
 * Wrong keys per source address in a window (a minute): beyond `failures`, the
 * address's wrong keys get 429 until the window is over (its right keys never
 * come here). Counted in Redis so a guesser spreading over instances is counted
 * once; while Redis is away each instance counts in memory, so authentication
 * neither stops nor opens up.
 */
export class AuthFailureThrottle implements FailedAuthGuard {
  private readonly limiter: RateLimiterAbstract;

  constructor(options: { failures: number; windowSeconds?: number; redis?: RedisClient; keyPrefix?: string }) {
    const window = { points: options.failures, duration: options.windowSeconds ?? 60 };
    const memory = new RateLimiterMemory(window);
    this.limiter = options.redis
      ? new RateLimiterRedis({
          ...window,
          storeClient: options.redis,
          keyPrefix: options.keyPrefix,
          insuranceLimiter: memory,
          rejectIfRedisNotReady: true,
        })
      : memory;
  }

  /** One round trip: the count goes up, and past `failures` the answer is how long the window still runs. */
  async failed(address: string): Promise<number> {
    return this.limiter.consume(address).then(
      () => 0,
      (rejection: unknown) => (rejection instanceof RateLimiterRes ? Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) : 0),
    );
  }
}
