import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../src/config/load';
import { createGateway } from '../src/gateway';
import { JOB_RETENTION } from '../src/queues/retention';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { benchEnv, printTable, SANDBOX_APP, startSimulatorProcess } from './support';

const KEY = 'bench-memory-key-0123456789';
const BODY = { event: 'program.alert', msgtype: 'text', to: { users: ['zhangsan'] }, data: { title: 'Disk 95% on db1', content: '/var is almost full', level: 'critical' } };

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
  const env = { ...benchEnv(redisServer.url, sim.url, { GATEWAY_API_KEYS: KEY, API_RATE_LIMIT_PER_MINUTE: '0', SEND_CONCURRENCY: '50' }, SANDBOX_APP) };
  const gateway = await createGateway(loadConfig(env), { logger: pino({ level: 'silent' }) });
  const request = (await import('supertest')).default(gateway.app);
  const send = gateway.queues.get('send') as Queue;
  const accept = async (n: number, tag: string) => {
    for (let done = 0; done < n; done += 200) {
      const batch = Array.from({ length: Math.min(200, n - done) }, (_, i) => request.post('/v1/messages').set('Authorization', `Bearer ${KEY}`).send({ ...BODY, data: { ...BODY.data, title: `${tag} ${done + i}` } }));
      for (const res of await Promise.all(batch)) if (res.status !== 202) throw new Error(`POST /v1/messages answered ${res.status}: ${res.text}`);
    }
  };
  try {
    const before = await usedMemory(redis, send);
    await accept(count, 'sent');
    await until(async () => (await sim.stats()).sent >= count && (await send.getJobCounts('completed')).completed >= Math.min(count, JOB_RETENTION.removeOnComplete.count));
    const withJobs = await usedMemory(redis, send);
    const completedKept = (await send.getJobCounts('completed')).completed;
    await send.clean(0, Number.MAX_SAFE_INTEGER, 'completed');
    const recordsOnly = await usedMemory(redis, send);

    await fetch(`${sim.url}/__sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: failures, fault: { errcode: 60020, errmsg: 'not allow to access from your ip' } }) });
    await accept(failures, 'failed');
    await until(async () => (await send.getJobCounts('failed')).failed >= failures);
    const withFailed = await usedMemory(redis, send);

    const perRecord = (recordsOnly - before) / count;
    const perCompleted = (withJobs - recordsOnly) / completedKept;
    const perFailed = (withFailed - recordsOnly) / failures - perRecord;
    const perMillion = 1_000_000 * perRecord;
    printTable(`Redis memory (used_memory) per message: ${count} program.alert messages sent, ${failures} refused`, [
      { what: 'message record', 'bytes each': Math.round(perRecord), kept: 'MESSAGE_RETENTION_DAYS', 'Redis for a million messages': `${mb(perMillion)} MB` },
      { what: 'completed send job', 'bytes each': Math.round(perCompleted), kept: `${JOB_RETENTION.removeOnComplete.age / 3600} h, at most ${JOB_RETENTION.removeOnComplete.count}`, 'Redis for a million messages': `at most ${mb(JOB_RETENTION.removeOnComplete.count * perCompleted)} MB` },
      { what: 'failed send job', 'bytes each': Math.round(perFailed), kept: `${JOB_RETENTION.removeOnFail.age / 86_400} days, at most ${JOB_RETENTION.removeOnFail.count}`, 'Redis for a million messages': `at most ${mb(JOB_RETENTION.removeOnFail.count * perFailed)} MB` },
    ]);
    process.stdout.write(`\nbaseline ${mb(before)} MB; after ${count} sent ${mb(withJobs)} MB (${completedKept} completed jobs kept); records only ${mb(recordsOnly)} MB; with ${failures} failed ${mb(withFailed)} MB\n`);
  } finally {
    await gateway.close();
    redis.disconnect();
    await sim.stop();
    await redisServer.stop();
  }
}
