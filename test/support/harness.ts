import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import request from 'supertest';
import type { OnCallDirectory } from '../../src/messages/oncall-recipients';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { createGateway, type Gateway } from '../../src/gateway';
import { startEmbeddedRedis } from '../../src/redis/embedded-redis';
import { redisKeys, type RedisKeys } from '../../src/redis/keys';
import { WecomSimulator, type SimulatorOptions } from '../../src/simulator/simulator';
import { binaryPath } from './prerequisites';

export const SIM_APP = { corpId: 'wwtest0000000001', agentId: 1000002, secret: 'test-secret' };
/**
 * Most tests send many messages to one person for brevity; the budget tests
 * (budget.test.ts) turn WeCom's per-member limits back on, at the gateway and the simulator.
 */
export const UNLIMITED_SIM = { apps: [SIM_APP], memberLimits: [] };

export const TEMPLATES_DIR = join(__dirname, '..', '..', 'templates');

/** A unique Redis key prefix per gateway group, so test files share one redis-server without meeting. */
export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** The configuration a test gateway runs with: real Redis, the simulator as WeCom, fast retries. */
export function testConfig(apiBase: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL: process.env.TEST_REDIS_URL,
    REDIS_PREFIX: uniquePrefix(),
    WECOM_API_BASE: apiBase,
    // The simulator serves WeCom's web login too (the alert's member page).
    WECOM_OAUTH_BASE: apiBase,
    WECOM_CORP_ID: SIM_APP.corpId,
    WECOM_AGENT_ID: String(SIM_APP.agentId),
    WECOM_AGENT_SECRET: SIM_APP.secret,
    WECOM_TIMEOUT_MS: '2000',
    RETRY_BASE_DELAY_MS: '5',
    TEMPLATES_DIR,
    LOG_LEVEL: 'silent',
    MEMBER_QUOTA: 'off',
    ...env,
  });
}

export interface Harness {
  sim: WecomSimulator;
  gateway: Gateway;
  config: Config;
  api: ReturnType<typeof request>;
  /** The test's own connection to the gateway's Redis, and the gateway's key names: for what no route shows. */
  redis: Redis;
  keys: RedisKeys;
  close(): Promise<void>;
}

/** One metric's lines as GET /metrics serves them. */
export async function metricLines(api: Harness['api'], name: string): Promise<string> {
  const res = await api.get('/metrics');
  return res.text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');
}

export async function startHarness(
  options: {
    env?: Record<string, string>;
    simulator?: SimulatorOptions;
    config?: (c: Config) => Config;
    clock?: () => number;
    logger?: Logger;
    /** Who is on call, for escalation levels that call `oncall:<schedule>`. */
    oncall?: OnCallDirectory;
  } = {},
): Promise<Harness> {
  const sim = await WecomSimulator.start({ ...UNLIMITED_SIM, ...options.simulator });
  // A configuration that does not load (a test of start-up problems) must not leave the simulator running: jest would hang.
  const { config, gateway } = await (async () => {
    let config = testConfig(sim.url, options.env);
    if (options.config) config = options.config(config);
    return {
      config,
      gateway: await createGateway(config, {
        logger: options.logger ?? pino({ level: 'silent' }),
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.oncall ? { oncall: options.oncall } : {}),
      }),
    };
  })().catch(async (error: unknown) => {
    await sim.stop();
    throw error;
  });
  const redis = new Redis(process.env.TEST_REDIS_URL!);
  return {
    sim,
    gateway,
    config,
    api: request(gateway.app),
    redis,
    keys: redisKeys(config.redis.prefix),
    async close() {
      await gateway.close();
      await redis.quit();
      await sim.stop();
    },
  };
}

/** A private redis-server of a test's own (restarts, clusters), from REDIS_SERVER_PATH like the shared one. */
export const startTestRedis = (options: Omit<Parameters<typeof startEmbeddedRedis>[0] & object, 'binary'> = {}) =>
  startEmbeddedRedis({ ...options, binary: binaryPath('redis-server') });

/** An express app (a gateway's) on a loopback port: its base URL, and close, which cuts its connections first. */
export async function listen(app: { listen(port: number, host: string): Server }): Promise<{ base: string; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Polls until `check` returns a value (not undefined/false) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the message reaches a final status and returns its view. */
export async function finalStatus(api: Harness['api'], id: string, timeoutMs = 10_000, apiKey?: string): Promise<Record<string, any>> {
  return eventually(async () => {
    const res = apiKey ? await api.get(`/v1/messages/${id}`).set('Authorization', `Bearer ${apiKey}`) : await api.get(`/v1/messages/${id}`);
    return res.status === 200 && ['sent', 'failed'].includes(res.body.status) ? (res.body as Record<string, any>) : undefined;
  }, timeoutMs);
}

export const alert = (overrides: Record<string, unknown> = {}) => ({
  event: 'program.alert',
  msgtype: 'text',
  to: { users: ['zhangsan'] },
  data: { title: 'Disk 95% on db1', content: '/var is almost full', level: 'critical' },
  ...overrides,
});

/**
 * A free port outside Linux's ephemeral range (32768-60999) for a server a test
 * stops and starts again on the same port: while it is down, no other server's
 * "any free port" nor an outgoing connection's source port can take it.
 */
export async function restartablePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createNetServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
