import pino from 'pino';
import { loadConfig } from '../src/config/load';
import { createGateway } from '../src/gateway';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { startServerProcess } from './server-process';
import { benchEnv, printTable, SANDBOX_APP, startSimulatorProcess } from './support';

/**
 * Delivery: N messages are queued first (workers off), then a gateway with send
 * workers, in a process of its own, delivers them to the simulator, in another;
 * messages/s is N / elapsed. At 100 ms WeCom latency the ceiling is
 * concurrency / 0.1 s: the figure shows whether the gateway reaches it.
 */
async function deliver(count: number, latencyMs: number, concurrency: number): Promise<Record<string, string | number>> {
  const redis = await startEmbeddedRedis();
  const sim = await startSimulatorProcess(latencyMs);
  const env = benchEnv(redis.url, sim.url, { SEND_CONCURRENCY: String(concurrency) }, SANDBOX_APP);
  const producer = await createGateway(loadConfig({ ...env, WORKERS: 'api', API_RATE_LIMIT_PER_MINUTE: '0' }), {
    logger: pino({ level: 'silent' }),
  });
  const body = { event: 'program.alert', msgtype: 'text', to: { users: ['zhangsan'] }, data: { title: 't', content: 'c', level: 'info' } };
  const request = (await import('supertest')).default(producer.app);
  for (let sent = 0; sent < count; sent += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, count - sent) }, (_, i) =>
        request.post('/v1/messages').send({ ...body, data: { ...body.data, title: `m${sent + i}` } }),
      ),
    );
  }
  await producer.close();
  const consumer = await startServerProcess('gateway', { ...env, WORKERS: 'send' });
  // Timed from the moment the process is up (its start-up is not delivery), over what it sent from then on.
  const started = performance.now();
  const sentBefore = (await sim.stats()).sent;
  while ((await sim.stats()).sent < count) await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - started) / 1000;
  const { peakRssMb } = await consumer.stop(); // lets in-flight answers land before calls are counted
  const stats = await sim.stats();
  await sim.stop();
  await redis.stop();
  return {
    'WeCom latency': `${latencyMs} ms`,
    concurrency,
    messages: count,
    'msg/s': Math.round((count - sentBefore) / seconds),
    'ceiling msg/s': latencyMs > 0 ? Math.round(concurrency / (latencyMs / 1000)) : '-',
    'send calls/msg': ((stats.calls - stats.gettoken) / count).toFixed(2),
    gettoken: stats.gettoken,
    'peak RSS MB (gateway process)': peakRssMb,
  };
}

export async function benchDelivery(count = Number(process.env.BENCH_MESSAGES ?? 20_000)): Promise<void> {
  const rows = [await deliver(count, 0, 50), await deliver(Math.min(count, 5_000), 100, 50)];
  printTable('Delivery: queued messages -> simulator (its own process)', rows);
}
