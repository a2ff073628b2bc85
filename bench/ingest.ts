import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { Redis } from 'ioredis';
import { startServerProcess, type ServerProcess } from './server-process';
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
export async function benchIngest(
  rounds = Number(process.env.BENCH_ROUNDS ?? 3),
  durationSeconds = 5,
  waitReplicas = process.env.BENCH_WAIT_REPLICAS === '1',
): Promise<void> {
  const redis = await startEmbeddedRedis({ extraArgs: ['--repl-diskless-sync-delay', '0'] });
  // BENCH_WAIT_REPLICAS=1: Redis gets a replica, and a second gateway answers only once the replica holds each message.
  const replica = waitReplicas ? await startReplica(redis.port) : undefined;
  const sim = await startSimulatorProcess(0);
  const gatewayEnv = (extra: Record<string, string> = {}) =>
    benchEnv(redis.url, sim.url, { WORKERS: 'api', API_RATE_LIMIT_PER_MINUTE: '0', ...extra }, SANDBOX_APP);
  // In the order of each round: the baseline first.
  const servers: Record<string, ServerProcess> = {
    express: await startServerProcess('express-json'),
    gateway: await startServerProcess('gateway', gatewayEnv()),
    ...(waitReplicas ? { 'gateway, WAIT 1': await startServerProcess('gateway', gatewayEnv({ REDIS_WAIT_REPLICAS: '1' })) } : {}),
    node: await startServerProcess('node-json'),
  };
  const results: Record<string, LoadResult[]> = Object.fromEntries(Object.keys(servers).map((name) => [name, []]));
  const peak: Record<string, number> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of Object.keys(servers))
        results[name].push(await load(name, `${servers[name].url}/v1/messages`, { body: BODY, durationSeconds }));
    }
  } finally {
    for (const name of Object.keys(servers)) peak[name] = (await servers[name].stop()).peakRssMb;
    await sim.stop();
    await replica?.stop();
    await redis.stop();
  }
  printTable(
    `Ingest: POST /v1/messages, 50 connections, ${rounds} x ${durationSeconds}s alternated; ratio per round against express in that round`,
    summarise(results, 'express').map((row) => ({ ...row, 'peak RSS MB': peak[row.server] ?? '-' })),
  );
}

/** A replica of the bench's Redis, once it has synced. */
async function startReplica(masterPort: number) {
  const replica = await startEmbeddedRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(masterPort)] });
  const master = new Redis(masterPort, '127.0.0.1');
  while (!(await master.info('replication')).includes('state=online')) await new Promise((r) => setTimeout(r, 50));
  master.disconnect();
  return replica;
}
