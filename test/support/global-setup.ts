import { startEmbeddedRedis } from '../../src/redis/embedded-redis';

/** One real redis-server for the whole run; each test file isolates itself with its own key prefix. */
export default async function globalSetup(): Promise<void> {
  const redis = await startEmbeddedRedis();
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as { __testRedis?: typeof redis }).__testRedis = redis;
}
