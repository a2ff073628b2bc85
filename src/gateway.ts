import type { Queue, Worker } from 'bullmq';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { createApp } from './app';
import type { Route } from './http/route';
import { findApp, type Config } from './config/config';
import { MediaResolver } from './messages/media';
import { MessageService } from './messages/message-service';
import { MessageStore } from './messages/message-store';
import { messageRoutes } from './messages/routes';
import { createSendQueue, type SendJobData } from './messages/send-queue';
import { startSendWorker } from './messages/send-worker';
import { loadTemplates, type EventTemplate } from './messages/templates';
import { createLogger } from './ops/logger';
import { createMetrics, type Metrics } from './ops/metrics';
import { opsRoutes } from './ops/routes';
import { createRedis, waitUntilReady } from './redis/connection';
import type { RedisClient } from './redis/scripts';
import { WecomClient } from './wecom/client';
import { TokenStore } from './wecom/token-store';
import { WecomApi } from './wecom/wecom-api';

/** Everything one gateway instance runs; server.ts and the tests build it the same way. */
export interface Gateway {
  config: Config;
  app: Express;
  logger: Logger;
  metrics: Metrics;
  redis: RedisClient;
  store: MessageStore;
  sendQueue: Queue<SendJobData>;
  workers: Worker[];
  templates: Map<string, EventTemplate>;
  /** Every HTTP route, as openapi.yaml names it. */
  routes: Route[];
  close(): Promise<void>;
}

export async function createGateway(config: Config, options: { logger?: Logger } = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const templates = loadTemplates(config.templatesDir);
  const metrics = createMetrics();
  const prefix = config.redis.prefix;

  const redis = createRedis(config.redis, 'command');
  const workerRedis = createRedis(config.redis, 'blocking', 'wecom-gateway-worker');
  // A command connection fails fast while Redis is away; log it once per state change, not per command.
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  workerRedis.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
  await waitUntilReady(redis);

  const client = new WecomClient({
    apiBase: config.wecom.apiBase,
    timeoutMs: config.wecom.timeoutMs,
    onCall: (api, errcode, ms) => {
      metrics.wecomCalls.inc({ api, errcode: String(errcode) });
      metrics.wecomCallSeconds.observe({ api }, ms / 1000);
    },
  });
  const tokens = new TokenStore(redis, client, {
    prefix,
    onFetch: (app, ok) => {
      metrics.tokenFetches.inc({ app: app.name, result: ok ? 'ok' : 'error' });
      logger.info({ app: app.name, ok }, 'fetched access_token');
    },
  });
  const api = new WecomApi(client, tokens);
  const store = new MessageStore(redis, { prefix, retentionSeconds: config.retentionSeconds });
  const sendQueue = createSendQueue(redis, prefix);
  await sendQueue.waitUntilReady();
  const service = new MessageService({ config, templates, store, queue: sendQueue, metrics });

  const workers: Worker[] = [];
  if (config.workers.has('send')) {
    workers.push(
      startSendWorker(workerRedis, prefix, config.send.concurrency, {
        store,
        api,
        media: new MediaResolver(redis, api, { prefix, downloadTimeoutMs: config.wecom.timeoutMs }),
        findApp: (name) => findApp(config, name),
        duplicateCheckSeconds: config.send.duplicateCheckSeconds,
        metrics,
        logger,
      }),
    );
  }

  const readiness = [
    { name: 'redis', check: async () => (await redis.ping()) === 'PONG' },
    { name: 'workers', check: async () => workers.every((w) => w.isRunning()) },
    { name: 'templates', check: async () => templates.size > 0 },
  ];
  metrics.addQueueCollector(async () => {
    const counts = await sendQueue.getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => ({}) as Record<string, number>);
    for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ queue: 'send', state }, count);
  });

  const routes = [...messageRoutes(service, store, templates), ...opsRoutes(metrics, readiness)];
  const app = createApp({
    routes,
    apiKeys: config.apiKeys,
    bodyLimit: config.bodyLimit,
    logger,
    metrics,
  });

  return {
    config,
    app,
    logger,
    metrics,
    redis,
    store,
    sendQueue,
    workers,
    templates,
    routes,
    async close() {
      // Workers first: in-flight sends finish (or go back to the queue) before connections close.
      await Promise.all(workers.map((w) => w.close()));
      await sendQueue.close();
      await client.close();
      await Promise.allSettled([redis.quit(), workerRedis.quit()]);
    },
  };
}
