import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { startServerProcess } from './server-process';
import { benchEnv, load, printTable, SANDBOX_APP, startSimulatorProcess, summarise, type LoadResult } from './support';

const BODY = JSON.stringify({
  event: 'program.alert',
  msgtype: 'text',
  to: { users: ['zhangsan'] },
  data: { title: 'Disk 95% on db1', content: '/var is almost full', level: 'critical' },
});

/**
 * POST /v1/messages against two baselines, each server in a process of its own
 * and the load generator in this one, alternated so that machine noise hits all
 * three alike: (a) bare express 5 + express.json() answering 202, (b) a bare
 * node:http JSON handler. The gateway is API-only (delivery has its own benchmark).
 */
export async function benchIngest(rounds = Number(process.env.BENCH_ROUNDS ?? 3), durationSeconds = 5): Promise<void> {
  const redis = await startEmbeddedRedis();
  const sim = await startSimulatorProcess(0);
  const servers = {
    gateway: await startServerProcess('gateway', benchEnv(redis.url, sim.url, { WORKERS: 'api', API_RATE_LIMIT_PER_MINUTE: '0' }, SANDBOX_APP)),
    express: await startServerProcess('express-json'),
    node: await startServerProcess('node-json'),
  };
  const results: Record<keyof typeof servers, LoadResult[]> = { gateway: [], express: [], node: [] };
  const peak: Partial<Record<keyof typeof servers, number>> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of ['express', 'gateway', 'node'] as const) results[name].push(await load(name, `${servers[name].url}/v1/messages`, { body: BODY, durationSeconds }));
    }
  } finally {
    for (const name of Object.keys(servers) as (keyof typeof servers)[]) peak[name] = (await servers[name].stop()).peakRssMb;
    await sim.stop();
    await redis.stop();
  }
  printTable(
    `Ingest: POST /v1/messages, 50 connections, ${rounds} x ${durationSeconds}s alternated; ratio per round against express in that round`,
    summarise(results, 'express').map((row) => ({ ...row, 'peak RSS MB': peak[row.server as keyof typeof servers] ?? '-' })),
  );
}
