import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config/load';
import { createGateway, type Gateway } from '../src/gateway';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { WecomSimulator, type SimulatorOptions } from '../src/simulator/simulator';

export interface LoadResult {
  name: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Runs autocannon against `url` and keeps the figures the tables print; `next` gives each request its own path and body. */
export async function load(
  name: string,
  url: string,
  options: {
    body?: string;
    next?: () => { path: string; body: string };
    headers?: Record<string, string>;
    connections?: number;
    durationSeconds?: number;
  },
): Promise<LoadResult> {
  const headers = { 'content-type': 'application/json', ...options.headers };
  const next = options.next;
  const result = await autocannon({
    url,
    method: 'POST',
    body: options.body,
    headers,
    connections: options.connections ?? 50,
    duration: options.durationSeconds ?? 5,
    ...(next ? { requests: [{ method: 'POST' as const, setupRequest: (req: object) => ({ ...req, ...next(), headers }) }] } : {}),
  });
  return {
    name,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  const columns = Object.keys(rows[0] ?? {});
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`\n${title}\n${line(columns)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => String(row[c])))}\n`);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * One row per server: req/s (median of the rounds), its ratio to the baseline
 * measured in the same round (minimum and median over the rounds: the machine's
 * noise moves both servers of a round alike), latencies and errors.
 */
export function summarise(results: Record<string, LoadResult[]>, baseline: string): Record<string, string | number>[] {
  return Object.entries(results).map(([server, rounds]) => {
    const ratios = rounds.map((r, i) => r.requestsPerSecond / results[baseline][i].requestsPerSecond);
    return {
      server,
      'req/s (median)': Math.round(median(rounds.map((r) => r.requestsPerSecond))),
      [`vs ${baseline} min`]: Math.min(...ratios).toFixed(2),
      [`vs ${baseline} median`]: median(ratios).toFixed(2),
      'p50 ms': median(rounds.map((r) => r.p50)).toFixed(1),
      'p99 ms (median)': median(rounds.map((r) => r.p99)).toFixed(1),
      'errors+non2xx': rounds.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
    };
  });
}

/** The app every benchmark's simulator knows. */
export const BENCH_APP = { corpId: 'wwbench', agentId: 1000002, secret: 'bench-secret' };

/**
 * The gateway's environment in a benchmark: real settings against the simulator,
 * logs off, and WeCom's per-member quota off (raw throughput: every message goes
 * to one member).
 */
export function benchEnv(redisUrl: string, simulatorUrl: string, extra: Record<string, string> = {}, app = BENCH_APP): NodeJS.ProcessEnv {
  return {
    REDIS_URL: redisUrl,
    WECOM_API_BASE: simulatorUrl,
    WECOM_CORP_ID: app.corpId,
    WECOM_AGENT_ID: String(app.agentId),
    WECOM_AGENT_SECRET: app.secret,
    LOG_LEVEL: 'silent',
    MEMBER_QUOTA: 'off',
    ...extra,
  };
}

/** Samples this process's resident memory until stopped; `peakMb()` is the highest seen. */
export function sampleRss(everyMs = 100): { peakMb: () => number; stop: () => void } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), everyMs);
  return { peakMb: () => Math.round(Math.max(peak, process.memoryUsage().rss) / 1048576), stop: () => clearInterval(timer) };
}

/** The standalone simulator's app (its default). */
export const SANDBOX_APP = { corpId: 'wwsandbox000000001', agentId: 1000002, secret: 'sandbox-secret' };

export interface SimulatorProcess {
  url: string;
  stats(): Promise<{ gettoken: number; calls: number; sent: number }>;
  stop(): Promise<void>;
}

/**
 * The simulator in a process of its own (it knows SANDBOX_APP), so that a
 * benchmark's WeCom does not take CPU from the gateway it measures.
 */
export async function startSimulatorProcess(latencyMs: number): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'src', 'simulator', 'main.js')], {
    env: { ...process.env, SIM_LATENCY_MS: String(latencyMs), SIM_MEMBER_LIMITS: 'off' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    child.stdout!.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString().split('\n')[0]) as { url: string }).url));
  });
  return {
    url,
    stats: async () => (await (await fetch(`${url}/__sim/stats`)).json()) as { gettoken: number; calls: number; sent: number },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface BenchGateway {
  sim: WecomSimulator;
  gateway: Gateway;
  /** The gateway's HTTP address. */
  url: string;
  stop(): Promise<void>;
}

/** A gateway on its own embedded Redis, listening on a free port, against an in-process simulator. */
export async function startBenchGateway(env: Record<string, string>, simulatorOptions: SimulatorOptions = {}): Promise<BenchGateway> {
  const redis = await startEmbeddedRedis();
  const sim = await WecomSimulator.start({ apps: [BENCH_APP], memberLimits: [], ...simulatorOptions });
  const gateway = await createGateway(loadConfig(benchEnv(redis.url, sim.url, env)), { logger: pino({ level: 'silent' }) });
  const server = createServer(gateway.app);
  const url = await listen(server);
  return {
    sim,
    gateway,
    url,
    stop: async () => {
      await close(server);
      await gateway.close();
      await sim.stop();
      await redis.stop();
    },
  };
}
