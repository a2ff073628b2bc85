import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Route } from './http/route';
import { childrenOf, createMetrics, type Metrics } from './ops/metrics';
import { describeWecomError, WecomReachability } from './ops/wecom-reachability';
import { appBlockedFor } from './budgets/app-pause';
import { createRedis, waitUntilReady, type RedisClient } from './redis/connection';
import { redisKeys, type RedisKeys } from './redis/keys';
import { replicationBarrier } from './redis/replication';
import type { RedisConfig } from './redis/redis-config';
import type { CallbackEvent } from './wecom/callback/event';
import { TokenStore } from './wecom/token-store';
import { WecomTransport } from './wecom/transport';
import type { ProxySettings } from './http/proxy';
import { WecomApi } from './wecom/wecom-api';

/** What every flow is wired from: the connections, WeCom, metrics, logs and the time. */
export interface Core {
  /** Commands; fails fast while Redis is away, so routes answer 503 at once. */
  redis: RedisClient;
  /** BullMQ queues (they load ~50 scripts onto their connection; our transactions stay off it). */
  queueRedis: RedisClient;
  /** BullMQ workers: blocking, waiting out an outage on their own. */
  workerRedis: RedisClient;
  /** A further command connection, for a flow that needs one of its own (WATCH/MULTI); closed with the core. */
  connect(name: string): Promise<Redis>;
  /**
   * Resolves once REDIS_WAIT_REPLICAS replicas hold what this instance wrote through
   * `redis` and `queueRedis` so far (at once when 0); rejects with ReplicasUnconfirmedError.
   * Called before answering for what was accepted, so that a failover cannot lose it.
   */
  replicated(): Promise<void>;
  keys: RedisKeys;
  api: WecomApi;
  /** Whether each app reaches WeCom (start-up check, every gettoken): /readyz details and a gauge. */
  reachability: WecomReachability;
  metrics: Metrics;
  logger: Logger;
  clock: () => number;
  close(): Promise<void>;
}

/**
 * What a flow gives the process, so that the gateway folds flows without knowing
 * what is inside them. Workers close before anything else (in-flight jobs finish or
 * go back to their queue); then each flow's `close`; then the core's connections.
 */
export interface Flow {
  /** HTTP routes, as openapi.yaml names them. */
  routes?: Route[];
  /** Callback rules, in the order they are tried (`inline` ones inside the callback request). */
  rules?: EventRule[];
  /** BullMQ workers this instance runs (WORKERS chooses which). */
  workers?: Worker[];
  /** Queues, for the depth metrics and the dashboard. */
  queues?: Queue[];
  readiness?: ReadinessCheck[];
  close?(): Promise<void>;
}

/** What a rule matches on; every given key must equal the event's (case-insensitive, as WeCom mixes `LOCATION`/`click`). */
export interface EventMatch {
  msgType?: string | string[];
  event?: string | string[];
  changeType?: string | string[];
  eventKey?: string | string[];
}

/** What an inline rule may answer: the text of a passive reply to the member (sealed by the callback route, as auto-replies are). */
export interface EventAnswer {
  reply?: string;
}

/** Answers only from an inline rule count: a queued one runs after WeCom got its answer. */
export type EventHandler = (event: CallbackEvent) => Promise<void | EventAnswer>;

export interface EventRule {
  name: string;
  match: EventMatch;
  handle: EventHandler;
  /** A further condition on the event (alert cards: a task_id the alerts flow issued). */
  when?: (event: CallbackEvent) => boolean;
  /** Handled inside the callback request (see EventRouter.inline); else from the inbound queue. */
  inline?: boolean;
}

/** What /readyz asks each flow: ready while every check answers true. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean>;
}

/** What the core reads from the configuration. */
export interface CoreSettings {
  redis: RedisConfig;
  /** recheckMs: how soon an app that cannot reach WeCom is checked again. */
  wecom: { apiBase: string; timeoutMs: number; recheckMs: number; proxy?: ProxySettings };
  /** throttleMs: how long an app's sends pause after a 45009. */
  send: { throttleMs: number };
}

export async function connectCore(config: CoreSettings, logger: Logger, clock: () => number = Date.now): Promise<Core> {
  const connections: RedisClient[] = [];
  let closing = false;
  const open = (role: 'command' | 'blocking', name = 'wecom-gateway') => {
    const connection = createRedis(config.redis, role, name);
    // A command connection fails fast while Redis is away; log it once per state change, not per command.
    connection.on('error', (err) => logger.debug({ err: err.message, connection: name }, 'redis connection error'));
    let lost = false;
    connection.on('close', () => {
      if (closing || lost) return;
      lost = true;
      logger.warn({ connection: name }, 'redis connection lost; reconnecting');
    });
    connection.on('ready', () => {
      if (!lost) return;
      lost = false;
      // Behind Sentinel the address tells the operator which master the connection found.
      logger.info({ connection: name, redis: remoteAddress(connection) }, 'redis connection restored');
    });
    connections.push(connection);
    return connection;
  };
  const redis = open('command');
  const queueRedis = open('command', 'wecom-gateway-queues');
  const workerRedis = open('blocking', 'wecom-gateway-worker');
  await Promise.all([waitUntilReady(redis), waitUntilReady(queueRedis)]);

  const metrics = createMetrics();
  const keys = redisKeys(config.redis.prefix);
  const wecomCalls = childrenOf(metrics.wecomCalls);
  const wecomCallSeconds = childrenOf(metrics.wecomCallSeconds);
  const transport = new WecomTransport({
    apiBase: config.wecom.apiBase,
    timeoutMs: config.wecom.timeoutMs,
    proxy: config.wecom.proxy,
    throttleMs: appBlockedFor(config.send.throttleMs),
    onCall: (api, errcode, ms) => {
      wecomCalls({ api, errcode: String(errcode) }).inc();
      wecomCallSeconds({ api }).observe(ms / 1000);
    },
  });
  const reachability = new WecomReachability({ metrics, logger, recheckMs: config.wecom.recheckMs });
  const tokens = new TokenStore(redis, transport, {
    keys,
    clock,
    onFetch: (app, error) => {
      metrics.tokenFetches.inc({ app: app.name, result: error ? 'error' : 'ok' });
      if (error)
        logger.warn(
          { app: app.name, errcode: error.errcode },
          `cannot fetch an access_token for app ${app.name}: ${describeWecomError(error)}`,
        );
      else logger.info({ app: app.name }, 'fetched access_token');
      reachability.record(app, error);
    },
  });
  return {
    redis,
    queueRedis,
    workerRedis,
    async connect(name) {
      // A Cluster client works too where every key of the flow shares one slot (contacts).
      const connection = open('command', name) as Redis;
      await waitUntilReady(connection);
      return connection;
    },
    replicated: replicationBarrier([redis, queueRedis], config.redis.waitReplicas),
    keys,
    api: new WecomApi(transport, tokens),
    reachability,
    metrics,
    logger,
    clock,
    async close() {
      closing = true;
      reachability.close();
      await transport.close();
      // QUIT needs a live connection: one still reconnecting (Redis just back) is cut instead, or it would retry forever.
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

function remoteAddress(connection: RedisClient): string | undefined {
  const stream = (connection as Redis).stream;
  return stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : undefined;
}

/** Stops a gateway's flows in order, then its connections. */
export async function closeFlows(core: Core, flows: Flow[]): Promise<void> {
  await Promise.all(flows.flatMap((f) => f.workers ?? []).map((w) => w.close()));
  await Promise.all(flows.map(async (f) => f.close?.()));
  await core.close();
}
