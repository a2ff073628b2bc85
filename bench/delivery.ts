import pino from 'pino';
import { loadConfig } from '../src/config/config';
import { createGateway } from '../src/gateway';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { WecomSimulator } from '../src/wecom/simulator/simulator';
import { printTable } from './support';

const APP = { corpId: 'wwbench', agentId: 1000002, secret: 'bench-secret' };

/**
 * Delivery: N messages are queued first (workers off), then one process with
 * send workers delivers them to the simulator; messages/s is N / elapsed.
 * At 100 ms WeCom latency the ceiling is concurrency / 0.1 s: the figure shows
 * whether the gateway reaches it.
 */
async function deliver(count: number, latencyMs: number, concurrency: number): Promise<Record<string, string | number>> {
  const redis = await startEmbeddedRedis();
  const sim = await WecomSimulator.start({ apps: [APP], latencyMs, memberLimits: [] });
  const env = {
    REDIS_URL: redis.url,
    WECOM_API_BASE: sim.url,
    WECOM_CORP_ID: APP.corpId,
    WECOM_AGENT_ID: String(APP.agentId),
    WECOM_AGENT_SECRET: APP.secret,
    SEND_CONCURRENCY: String(concurrency),
    LOG_LEVEL: 'silent',
      MEMBER_QUOTA: 'off', // raw throughput: every message goes to one member
  };
  const producer = await createGateway(loadConfig({ ...env, WORKERS: 'api', API_RATE_LIMIT_PER_MINUTE: '0' }), { logger: pino({ level: 'silent' }) });
  const body = { event: 'program.alert', msgtype: 'text', to: { users: ['zhangsan'] }, data: { title: 't', content: 'c', level: 'info' } };
  const request = (await import('supertest')).default(producer.app);
  for (let sent = 0; sent < count; sent += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - sent) }, (_, i) => request.post('/v1/messages').send({ ...body, data: { ...body.data, title: `m${sent + i}` } })));
  }
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const consumer = await createGateway(loadConfig({ ...env, WORKERS: 'send' }), { logger: pino({ level: 'silent' }) });
  let peakRss = 0;
  while (sim.sent.length < count) {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  await consumer.close(); // lets in-flight answers land before calls are counted
  const calls = sim.calls.filter((c) => c.api === 'message/send').length;
  await producer.close();
  await sim.stop();
  await redis.stop();
  return {
    'WeCom latency': `${latencyMs} ms`,
    concurrency,
    messages: count,
    'msg/s': Math.round(count / seconds),
    'ceiling msg/s': latencyMs > 0 ? Math.round(concurrency / (latencyMs / 1000)) : '-',
    'send calls/msg': (calls / count).toFixed(2),
    gettoken: sim.gettokenCount(),
    'peak RSS MB': Math.round(Math.max(peakRss, rssBefore) / 1048576),
  };
}

export async function benchDelivery(count = Number(process.env.BENCH_MESSAGES ?? 20_000)): Promise<void> {
  const rows = [await deliver(count, 0, 50), await deliver(Math.min(count, 5_000), 100, 50)];
  printTable('Delivery: queued messages -> simulator (one process: producer gateway + consumer gateway)', rows);
}
