import pino from 'pino';
import { loadConfig } from '../src/config/load';
import { createGateway } from '../src/gateway';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { benchEnv, printTable, sampleRss, SANDBOX_APP, startSimulatorProcess } from './support';

/**
 * Delivery: N messages are queued first (workers off), then a gateway with send
 * workers delivers them to the simulator, which runs in a process of its own;
 * messages/s is N / elapsed. At 100 ms WeCom latency the ceiling is
 * concurrency / 0.1 s: the figure shows whether the gateway reaches it.
 */
async function deliver(count: number, latencyMs: number, concurrency: number): Promise<Record<string, string | number>> {
  const redis = await startEmbeddedRedis();
  const sim = await startSimulatorProcess(latencyMs);
  const env = benchEnv(redis.url, sim.url, { SEND_CONCURRENCY: String(concurrency) }, SANDBOX_APP);
  const producer = await createGateway(loadConfig({ ...env, WORKERS: 'api', API_RATE_LIMIT_PER_MINUTE: '0' }), { logger: pino({ level: 'silent' }) });
  const body = { event: 'program.alert', msgtype: 'text', to: { users: ['zhangsan'] }, data: { title: 't', content: 'c', level: 'info' } };
  const request = (await import('supertest')).default(producer.app);
  for (let sent = 0; sent < count; sent += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - sent) }, (_, i) => request.post('/v1/messages').send({ ...body, data: { ...body.data, title: `m${sent + i}` } })));
  }
  await producer.close();
  const rss = sampleRss();
  const started = performance.now();
  const consumer = await createGateway(loadConfig({ ...env, WORKERS: 'send' }), { logger: pino({ level: 'silent' }) });
  while ((await sim.stats()).sent < count) await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - started) / 1000;
  rss.stop();
  await consumer.close(); // lets in-flight answers land before calls are counted
  const stats = await sim.stats();
  await sim.stop();
  await redis.stop();
  return {
    'WeCom latency': `${latencyMs} ms`,
    concurrency,
    messages: count,
    'msg/s': Math.round(count / seconds),
    'ceiling msg/s': latencyMs > 0 ? Math.round(concurrency / (latencyMs / 1000)) : '-',
    'send calls/msg': ((stats.calls - stats.gettoken) / count).toFixed(2),
    gettoken: stats.gettoken,
    'peak RSS MB (gateway process)': rss.peakMb(),
  };
}

export async function benchDelivery(count = Number(process.env.BENCH_MESSAGES ?? 20_000)): Promise<void> {
  const rows = [await deliver(count, 0, 50), await deliver(Math.min(count, 5_000), 100, 50)];
  printTable('Delivery: queued messages -> simulator (its own process)', rows);
}
