import { Redis } from 'ioredis';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/redis/embedded-redis';
import { nameRecipients } from '../../src/budgets/recipient-cap';
import { createMessage, startPart } from '../../src/messages/store-scripts';
import { compareAndDelete } from '../../src/redis/atomic';

describe('Lua scripts by SHA', () => {
  // A Redis of its own: SCRIPT FLUSH on the shared one would hit other suites' pipelines mid-flight.
  let server: EmbeddedRedis;
  let redis: Redis;
  let watcher: Redis;
  beforeAll(async () => {
    server = await startEmbeddedRedis();
    redis = new Redis(server.url);
    watcher = new Redis(server.url);
  });
  afterAll(async () => {
    await Promise.all([redis.quit(), watcher.quit()]);
    await server.stop();
  });

  it('when Redis has forgotten its scripts (a restart, SCRIPT FLUSH), then a call sends the script once and goes by SHA again after', async () => {
    const key = `lua-test:${Date.now()}`;
    await redis.set(key, 'mine');
    await redis.script('FLUSH');
    const monitor = await watcher.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[2] === '1' && args[3] === key) seen.push(args[0].toLowerCase());
    });
    expect(await compareAndDelete(redis, key, 'other')).toBe(false);
    expect(await compareAndDelete(redis, key, 'mine')).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();
    // The first call is refused (NOSCRIPT) and sent whole; the second goes by SHA at once.
    expect(seen).toEqual(['evalsha', 'eval', 'evalsha']);
    expect(await redis.exists(key)).toBe(0);
  });

  it('when a message is created and a part started, then a sent or recalled part is left as it is and a missing record answers nothing', async () => {
    const keys = { record: `lua-test:msg:{${Date.now()}}`, parts: `lua-test:msg:{${Date.now()}}:parts` };
    const queued = JSON.stringify({ status: 'queued', attempts: 0, updatedAt: 1 });
    await createMessage(redis, keys, { ttlSeconds: 60, parts: 2, queuedPart: queued, fields: { id: 'm1', parts: 2 } });
    expect(await redis.hgetall(keys.record)).toEqual({ id: 'm1', parts: '2' });
    expect(await redis.ttl(keys.parts)).toBeGreaterThan(50);
    const sending = JSON.stringify({ status: 'sending', attempts: 1, updatedAt: 2 });
    expect(await startPart(redis, keys.parts, 0, sending)).toBe(queued);
    expect(await redis.hget(keys.parts, '0')).toBe(sending);
    const sent = JSON.stringify({ status: 'sent', attempts: 1, updatedAt: 3 });
    await redis.hset(keys.parts, '1', sent);
    expect(await startPart(redis, keys.parts, 1, sending)).toBe(sent);
    expect(await redis.hget(keys.parts, '1')).toBe(sent);
    expect(await startPart(redis, 'lua-test:none', 0, sending)).toBeNull();
  });

  it('when a caller names users past its cap, then nothing is counted and the answer is when the oldest lapse; users it named are free and lapse after the window', async () => {
    const key = `lua-test:recipients:${Date.now()}`;
    const name = (now: number, users: string[]) => nameRecipients(redis, key, { now, windowMs: 1_000, cap: 3, users });
    expect(await name(10_000, ['a', 'b'])).toBe(0);
    expect(await name(10_500, ['c'])).toBe(0);
    // Two new ones would make 5: room once a and b (named at 10,000) lapse.
    expect(await name(10_600, ['d', 'e'])).toBe(11_000);
    expect(await redis.zrange(key, 0, -1)).toEqual(['a', 'b', 'c']);
    expect(await name(10_700, ['a', 'c'])).toBe(0);
    // a and c were named again at 10,700: only b has lapsed by 11,100, so one new user fits, two wait for a or c.
    expect(await name(11_100, ['d', 'e'])).toBe(11_700);
    expect(await name(11_100, ['d'])).toBe(0);
    expect((await redis.zrange(key, 0, -1)).sort()).toEqual(['a', 'c', 'd']);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  });
});
