import { startEmbeddedRedis } from '../../src/redis/embedded-redis';
import { assertPrerequisites, binaryPath } from './prerequisites';

/** One real redis-server for the whole run; each test file isolates itself with its own key prefix. */
export default async function globalSetup(): Promise<void> {
  // Before anything starts, so that `npx jest` alone stops at once on a missing tool, with what to install.
  assertPrerequisites();
  const redis = await startEmbeddedRedis({ binary: binaryPath('redis-server') });
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as { __testRedis?: typeof redis }).__testRedis = redis;
}
