import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClient } from '../redis/connection';
import type { BudgetLimit } from './limit';

/**
 * Each key's share of the send queue: `count` parts per window go at the priority
 * they asked; the parts beyond it wait behind every part within a share, so one
 * key's backlog never stands in front of another key's alert. Counted in Redis at
 * accept (one fixed window per key, shared by every instance). Nothing is refused:
 * parts beyond the share are only later.
 */
export class SendShare {
  private readonly window: RateLimiterRedis;

  constructor(
    redis: RedisClient,
    keyPrefix: string,
    private readonly limit: BudgetLimit,
  ) {
    // Not ready: answer at once (asked priorities) rather than wait in ioredis's offline queue.
    this.window = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix,
      points: limit.count,
      duration: limit.windowMs / 1000,
      rejectIfRedisNotReady: true,
    });
  }

  /**
   * For each of an owner's `parts` new parts: undefined within its share, or how many
   * whole shares beyond it the part is (0 for the first `count` beyond, 1 for the
   * next...), so a key slightly over its share still goes before one far over it.
   * If Redis answers badly, every part keeps its asked priority: accepting never fails here.
   */
  async take(owner: string, parts: number): Promise<(number | undefined)[]> {
    const consumed = await this.window.consume(owner, parts).then(
      (res) => res.consumedPoints,
      (res: unknown) => (res instanceof RateLimiterRes ? res.consumedPoints : undefined),
    );
    if (consumed === undefined) return Array.from({ length: parts }, () => undefined);
    const first = consumed - parts;
    return Array.from({ length: parts }, (_, i) => {
      const beyond = first + i - this.limit.count;
      return beyond < 0 ? undefined : Math.floor(beyond / this.limit.count);
    });
  }
}
