import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../src/config/load';
import { createGateway } from '../src/gateway';
import { JOB_RETENTION } from '../src/queues/retention';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { benchEnv, printTable, SANDBOX_APP, startSimulatorProcess } from './support';

const KEY = 'bench-memory-key-0123456789';
const BODY = {
  event: 'program.alert',
  msgtype: 'text',
  to: { users: ['zhangsan'] },
  data: { title: 'Disk 95% on db1', content: '/var is almost full', level: 'critical' },
};

/**
 * Redis's used_memory without the queue's event stream, which BullMQ caps on its
 * own (~10,000 events) and which would otherwise count as a cost per message.
 */
async function usedMemory(redis: Redis, queue: Queue): Promise<number> {
  await new Promise((r) => setTimeout(r, 300)); // lets the last writes (and lazy frees) land
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const events = Number((await redis.call('MEMORY', 'USAGE', queue.keys.events, 'SAMPLES', '0')) ?? 0);
  return used - events;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100));
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

/**
 * Redis memory per message, as the gateway keeps it: `count` program.alert
 * messages are accepted through the API and sent to the simulator (its own
 * process), then INFO memory is read (1) with what the gateway keeps, (2) after
 * the completed jobs are cleaned away, which leaves the message records; then
 * `failures` messages that WeCom refuses (60020) give a failed job's cost.
 * Records live MESSAGE_RETENTION_DAYS; jobs are capped by JOB_RETENTION, so the
 * figure per million messages is a million records plus a bounded queue.
 */
export async function benchRedisMemory(count = Number(process.env.BENCH_MESSAGES ?? 20_000), failures = 2_000): Promise<void> {
  const redisServer = await startEmbeddedRedis();
  const sim = await startSimulatorProcess(0);
  const redis = new Redis(redisServer.url);
  const env = {
    ...benchEnv(redisServer.url, sim.url, { GATEWAY_API_KEYS: KEY, API_RATE_LIMIT_PER_MINUTE: '0', SEND_CONCURRENCY: '50' }, SANDBOX_APP),
  };
  const gateway = await createGateway(loadConfig(env), { logger: pino({ level: 'silent' }) });
  const request = (await import('supertest')).default(gateway.app);
  const send = gateway.queues.get('send') as Queue;
  const accept = async (n: number, tag: string) => {
    for (let done = 0; done < n; done += 200) {
      const batch = Array.from({ length: Math.min(200, n - done) }, (_, i) =>
        request
          .post('/v1/messages')
          .set('Authorization', `Bearer ${KEY}`)
          .send({ ...BODY, data: { ...BODY.data, title: `${tag} ${done + i}` } }),
      );
      for (const res of await Promise.all(batch))
        if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${res.text}`);
    }
  };
  try {
    const before = await usedMemory(redis, send);
    await accept(count, 'sent');
    await until(
      async () =>
        (await sim.stats()).sent >= count &&
        (await send.getJobCounts('completed')).completed >= Math.min(count, JOB_RETENTION.removeOnComplete.count),
    );
    const withJobs = await usedMemory(redis, send);
    const completedKept = (await send.getJobCounts('completed')).completed;
    await send.clean(0, Number.MAX_SAFE_INTEGER, 'completed');
    const recordsOnly = await usedMemory(redis, send);

    await fetch(`${sim.url}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: failures, fault: { errcode: 60020, errmsg: 'not allow to access from your ip' } }),
    });
    await accept(failures, 'failed');
    await until(async () => (await send.getJobCounts('failed')).failed >= failures);
    const withFailed = await usedMemory(redis, send);

    const perRecord = (recordsOnly - before) / count;
    const perCompleted = (withJobs - recordsOnly) / completedKept;
    const perFailed = (withFailed - recordsOnly) / failures - perRecord;
    const perMillion = 1_000_000 * perRecord;
    printTable(`Redis memory (used_memory) per message: ${count} program.alert messages sent, ${failures} refused`, [
      {
        what: 'message record',
        'bytes each': Math.round(perRecord),
        kept: 'MESSAGE_RETENTION_DAYS',
        'Redis for a million messages': `${mb(perMillion)} MB`,
      },
      {
        what: 'completed send job',
        'bytes each': Math.round(perCompleted),
        kept: `${JOB_RETENTION.removeOnComplete.age / 3600} h, at most ${JOB_RETENTION.removeOnComplete.count}`,
        'Redis for a million messages': `at most ${mb(JOB_RETENTION.removeOnComplete.count * perCompleted)} MB`,
      },
      {
        what: 'failed send job',
        'bytes each': Math.round(perFailed),
        kept: `${JOB_RETENTION.removeOnFail.age / 86_400} days, at most ${JOB_RETENTION.removeOnFail.count}`,
        'Redis for a million messages': `at most ${mb(JOB_RETENTION.removeOnFail.count * perFailed)} MB`,
      },
    ]);
    process.stdout.write(
      `\nbaseline ${mb(before)} MB; after ${count} sent ${mb(withJobs)} MB (${completedKept} completed ` +
        `jobs kept); records only ${mb(recordsOnly)} MB; with ${failures} failed ${mb(withFailed)} MB\n`,
    );
  } finally {
    await gateway.close();
    redis.disconnect();
    await sim.stop();
    await redisServer.stop();
  }
  await benchRedisPerKey();
}

/** The bytes Redis holds for every key matching `pattern` (MEMORY USAGE, exact), and how many keys. */
async function usageOf(redis: Redis, pattern: string): Promise<{ keys: number; bytes: number }> {
  let keys = 0;
  let bytes = 0;
  for await (const batch of redis.scanStream({ match: pattern, count: 1000 }) as AsyncIterable<string[]>) {
    for (const key of batch) {
      keys++;
      bytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    }
  }
  return { keys, bytes };
}

/**
 * Redis per caller key: the member budgets (one sorted set per member, an entry per
 * send within the hour) and the key's own set of the users it named, at the default
 * KEY_RECIPIENTS_PER_HOUR (2,000). One key names its cap in users (two 1,000-user
 * messages), then sends `repeats` more messages to 100 of them: the first gives a
 * member's cost with one send, the second what each further send adds. A member
 * takes at most 1,000 sends an hour (MEMBER_QUOTA), which gives the worst case per key.
 */
async function benchRedisPerKey(repeats = 20): Promise<void> {
  const redisServer = await startEmbeddedRedis();
  const sim = await startSimulatorProcess(0);
  const redis = new Redis(redisServer.url);
  const env = benchEnv(
    redisServer.url,
    sim.url,
    { GATEWAY_API_KEYS: KEY, API_RATE_LIMIT_PER_MINUTE: '0', MEMBER_QUOTA: '30/60,1000/3600' },
    SANDBOX_APP,
  );
  const config = loadConfig(env);
  const gateway = await createGateway(config, { logger: pino({ level: 'silent' }) });
  const request = (await import('supertest')).default(gateway.app);
  const send = gateway.queues.get('send') as Queue;
  const cap = config.recipientsPerHour;
  const users = Array.from({ length: cap }, (_, i) => `member${String(i).padStart(5, '0')}`);
  const post = async (to: string[], title: string) => {
    const res = await request
      .post('/v1/messages')
      .set('Authorization', `Bearer ${KEY}`)
      .send({ ...BODY, to: { users: to }, data: { ...BODY.data, title } });
    return res.status;
  };
  const sent = async (n: number) => until(async () => (await sim.stats()).sent >= n);
  const prefix = config.redis.prefix;
  try {
    for (let i = 0; i < cap; i += 1_000)
      if ((await post(users.slice(i, i + 1_000), `first ${i}`)) !== 202) throw new Error('a send within the cap was refused');
    await sent(Math.ceil(cap / 1_000));
    const once = await usageOf(redis, `${prefix}:budget:*`);
    const named = await usageOf(redis, `${prefix}:recipients:*`);
    const refused = await post(['one-more'], 'past the cap');
    for (let r = 0; r < repeats; r++) await post(users.slice(0, 100), `again ${r}`);
    await sent(Math.ceil(cap / 1_000) + repeats);
    const again = await usageOf(redis, `${prefix}:budget:*`);
    // A member at its hourly limit (1,000 sends; 30 a minute, so an hour to reach for real): its sorted set as the budget script writes it.
    const full = `${prefix}:bench:full-member`;
    const sendIds = Array.from({ length: 1_000 }, (_, i) => [Date.now() + i, `${randomUUID()}_0`] as const);
    await redis.zadd(full, ...sendIds.flat());
    const fullMember = Number(await redis.call('MEMORY', 'USAGE', full, 'SAMPLES', '0'));
    const perMember = once.bytes / once.keys;
    const perSend = (again.bytes - once.bytes) / (100 * repeats);
    const perNamed = named.bytes / cap;
    printTable(
      `Redis per caller key: member budgets and the users it named ` +
        `(KEY_RECIPIENTS_PER_HOUR ${cap}; a ${cap + 1}th user answered ${refused})`,
      [
        {
          what: 'member budget, a member with one send',
          'bytes each': Math.round(perMember),
          kept: '1 h after its last send',
          'per key at the cap': `${mb(cap * perMember)} MB`,
        },
        {
          what: 'member budget, each further send (up to 128 a member)',
          'bytes each': Math.round(perSend),
          kept: '1 h',
          'per key at the cap': '',
        },
        {
          what: 'member budget, a member at 1,000 sends an hour',
          'bytes each': fullMember,
          kept: '1 h',
          'per key at the cap': `${mb(cap * fullMember)} MB`,
        },
        {
          what: "the key's named users (one entry a user)",
          'bytes each': Math.round(perNamed),
          kept: '1 h after last named',
          'per key at the cap': `${mb(cap * perNamed)} MB`,
        },
        {
          what: 'per key: every member one send / every member at its limit',
          'bytes each': '',
          kept: '',
          'per key at the cap': `${mb(cap * (perMember + perNamed))} MB / ${mb(cap * (fullMember + perNamed))} MB`,
        },
      ],
    );
    await send.clean(0, Number.MAX_SAFE_INTEGER, 'completed');
  } finally {
    await gateway.close();
    redis.disconnect();
    await sim.stop();
    await redisServer.stop();
  }
}
