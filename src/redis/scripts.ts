import type { Redis, Cluster } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * Deletes KEYS[1] only while it still holds ARGV[1]: a token that failed is
 * dropped, but a fresh one that another instance already stored survives; a
 * lock is released only by its owner.
 */
const COMPARE_AND_DELETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export async function compareAndDelete(redis: RedisClient, key: string, expected: string): Promise<boolean> {
  return (await redis.eval(COMPARE_AND_DELETE, 1, key, expected)) === 1;
}
