import { Queue, type Worker } from 'bullmq';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { alertRoutes } from './alerts/routes';
import { StormControl } from './alerts/storm-control';
import { createApp } from './app';
import { AutoReplies } from './callback/auto-reply';
import { callbackRoutes } from './callback/callback-routes';
import { EventRouter } from './callback/event-router';
import { loadExtensions } from './callback/extensions';
import { routeInboundForwarding } from './callback/forward-inbound';
import { InboundQueue, startInboundWorker } from './callback/inbound-queue';
import { CallbackIpAllowlist } from './callback/ip-allowlist';
import { Directory } from './contacts/directory';
import { handleContactChange } from './contacts/handle-contact-change';
import { contactRoutes } from './contacts/routes';
import { SealedJson } from './contacts/sealed-json';
import { SyncDispatcher } from './contacts/sync-dispatcher';
import type { Redis } from 'ioredis';
import { customerRemoved } from './wecom/callback-event';
import { loadActivities } from './welcome/activities';
import { ContactWays } from './welcome/contact-ways';
import { EmployeePool } from './welcome/employee-pool';
import { createWelcomeQueue, enqueueWelcome, startWelcomeWorkers, TAG_QUEUE, type TagJob } from './welcome/handle-new-customer';
import { welcomeRoutes } from './welcome/routes';
import { deadLetterRoutes } from './webhooks/dead-letter-routes';
import { WebhookOutbox } from './webhooks/webhook-outbox';
import { rateLimitPerKey } from './http/rate-limit';
import { dashboard } from './ops/dashboard';
import type { Route } from './http/route';
import { findApp, type Config } from './config/config';
import { MediaResolver } from './messages/media';
import { MessageService } from './messages/message-service';
import { MessageStore } from './messages/message-store';
import { messageRoutes } from './messages/routes';
import { MemberBudget } from './messages/member-budget';
import { createSendQueue, enqueueParts, queuePrefix, type SendJobData } from './messages/send-queue';
import { startSendWorker } from './messages/send-worker';
import { loadTemplates, type EventTemplate } from './messages/templates';
import { createLogger } from './ops/logger';
import { createMetrics, type Metrics } from './ops/metrics';
import { diagnose } from './ops/doctor';
import { opsRoutes } from './ops/routes';
import { createRedis, waitUntilReady } from './redis/connection';
import type { RedisClient } from './redis/scripts';
import { WecomClient } from './wecom/client';
import { throttleFor } from './wecom/errcodes';
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
  /** Callback events are handed to the first matching rule; flows register theirs here. */
  router: EventRouter;
  inbound: InboundQueue;
  directory: Directory;
  pool: EmployeePool;
  storm: StormControl;
  /** Every HTTP route, as openapi.yaml names it. */
  routes: Route[];
  close(): Promise<void>;
}

export async function createGateway(config: Config, options: { logger?: Logger } = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const templates = loadTemplates(config.templatesDir);
  // Before any connection: a broken module stops start-up with nothing to clean up. Its rules send through `service`, built below.
  const extensionRules = await loadExtensions(config.extensions, { send: (message) => service.accept(service.parse(message)), logger });
  const metrics = createMetrics();
  const prefix = config.redis.prefix;

  const redis = createRedis(config.redis, 'command');
  const workerRedis = createRedis(config.redis, 'blocking', 'wecom-gateway-worker');
  // A command connection fails fast while Redis is away; log it once per state change, not per command.
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  workerRedis.on('error', (err) => logger.debug({ err: err.message }, 'redis worker connection error'));
  // BullMQ defines ~50 Lua scripts on the connection it is given, and ioredis copies them into every
  // MULTI/pipeline made on it: queues get a connection of their own so our transactions stay cheap.
  const queueRedis = createRedis(config.redis, 'command', 'wecom-gateway-queues');
  queueRedis.on('error', (err) => logger.debug({ err: err.message }, 'redis queue connection error'));
  await Promise.all([waitUntilReady(redis), waitUntilReady(queueRedis)]);

  const client = new WecomClient({
    apiBase: config.wecom.apiBase,
    timeoutMs: config.wecom.timeoutMs,
    throttleMs: (errcode) => throttleFor(errcode, config.send.throttleMs),
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
  const sendQueue = createSendQueue(queueRedis, prefix);
  await sendQueue.waitUntilReady();
  const service = new MessageService({ config, templates, store, queue: sendQueue, metrics });
  const storm = new StormControl(redis, queueRedis, { prefix, dedupeSeconds: config.alerts.dedupeSeconds, perRecipientPerMinute: config.alerts.perRecipientPerMinute });

  const router = new EventRouter(logger);
  const inbound = new InboundQueue(queueRedis, prefix);
  const forwardOutbox = config.inboundWebhookUrl
    ? new WebhookOutbox(queueRedis, {
        name: 'forward-inbound',
        url: config.inboundWebhookUrl,
        secret: config.callback.inboundWebhookSecret,
        prefix,
        attempts: 8,
        retryBaseDelayMs: config.send.retryBaseDelayMs,
        timeoutMs: 5_000,
        concurrency: 10,
        logger,
      })
    : undefined;
  // WATCH/MULTI needs a connection of its own (a Cluster client works too: every contacts key shares one slot).
  const contactsRedis = createRedis(config.redis, 'command', 'wecom-gateway-contacts') as Redis;
  contactsRedis.on('error', (err) => logger.debug({ err: err.message }, 'redis contacts connection error'));
  await waitUntilReady(contactsRedis);
  const directory = new Directory(redis, contactsRedis, new SealedJson(config.contacts.encryptionKey), prefix);
  router.inline('contact-change', { msgType: 'event', event: 'change_contact' }, (event) => handleContactChange(event, { directory, metrics, logger }));
  const syncDispatcher =
    config.contacts.sinks.length > 0
      ? new SyncDispatcher(redis, directory, config.contacts.sinks, { prefix, retryBaseDelayMs: config.send.retryBaseDelayMs, maxBackoffMs: 60_000, refusalAttempts: 3, timeoutMs: 10_000, idleMs: 100 }, metrics, logger)
      : undefined;
  // New customers: welcomed from a queue of their own (never behind a backlog of alerts), counted, tagged.
  const activities = loadActivities(config.templatesDir);
  const defaultApp = findApp(config);
  const customerContactApp = defaultApp && config.welcome.customerContactSecret ? { ...defaultApp, name: 'customer-contact', secret: config.welcome.customerContactSecret } : defaultApp;
  const pool = new EmployeePool(redis, activities, { prefix, timeZone: config.welcome.timeZone });
  const welcomeQueue = createWelcomeQueue(queueRedis, prefix);
  const tagQueue = new Queue<TagJob>(TAG_QUEUE, { connection: queueRedis, prefix: queuePrefix(prefix) });
  const contactWays = customerContactApp ? new ContactWays(redis, api, customerContactApp, activities, pool, { prefix, logger }) : undefined;
  router.inline('new-customer', { msgType: 'event', event: 'change_external_contact', changeType: ['add_external_contact', 'add_half_external_contact'] }, (event) => enqueueWelcome(welcomeQueue, event));
  router.inline('customer-removed', { msgType: 'event', event: 'change_external_contact', changeType: ['del_external_contact', 'del_follow_user'] }, async (event) => {
    const { employee, customer } = customerRemoved(event);
    if (employee && customer) await pool.countRemoval(employee, customer);
  });
  // The operator's own rules (config file `extensions:`) are tried before the built-in forwarding.
  for (const rule of extensionRules) router.on(rule.name, rule.match, rule.handle);
  if (forwardOutbox) routeInboundForwarding(router, forwardOutbox);
  const allowlists = new Map<string, CallbackIpAllowlist>();
  if (config.callback.ipAllowlist === 'wecom') {
    for (const app of config.apps.filter((a) => a.callback)) allowlists.set(app.name, new CallbackIpAllowlist(api, app, logger));
    await Promise.all([...allowlists.values()].map((a) => a.start()));
  }

  // Final statuses to the callbackUrl a request named: signed, retried, never in the way of sending.
  const statusCallbacks = new WebhookOutbox(queueRedis, { name: 'status-callbacks', secret: config.statusCallbackSecret, prefix, attempts: 8, retryBaseDelayMs: config.send.retryBaseDelayMs, timeoutMs: 5_000, concurrency: 10, logger });
  const notifyIfFinal = async (messageId: string) => {
    const view = await store.get(messageId);
    if (!view?.callbackUrl || (view.status !== 'sent' && view.status !== 'failed')) return;
    const { callbackUrl, ...status } = view;
    await statusCallbacks.add({ id: `${messageId}_final`, url: callbackUrl, body: status, createdAt: Date.now() });
  };

  const workers: Worker[] = [];
  if (config.workers.has('send')) {
    workers.push(
      startSendWorker(workerRedis, prefix, { concurrency: config.send.concurrency, lockMs: config.send.jobLockMs, ratePerSecond: config.send.ratePerSecond }, {
        store,
        onPartDone: notifyIfFinal,
        budget: config.send.memberQuota.length > 0 ? new MemberBudget(redis, prefix, config.send.memberQuota) : undefined,
        deferPart: (data, until) => enqueueParts(sendQueue, [data], config.send, Math.max(0, until - Date.now())),
        api,
        media: new MediaResolver(redis, api, { prefix, downloadTimeoutMs: config.wecom.timeoutMs }),
        findApp: (name) => findApp(config, name),
        duplicateCheckSeconds: config.send.duplicateCheckSeconds,
        metrics,
        logger,
      }),
    );
  }

  if (config.workers.has('send')) workers.push(statusCallbacks.startWorker(workerRedis));
  if (config.workers.has('inbound')) {
    workers.push(startInboundWorker(workerRedis, prefix, router, logger, (rule) => metrics.inboundHandled.inc({ rule })));
    if (forwardOutbox) workers.push(forwardOutbox.startWorker(workerRedis));
  }

  if (syncDispatcher && config.workers.has('sync')) syncDispatcher.start();
  if (config.workers.has('digest')) workers.push(storm.startWorker(workerRedis, service, logger));
  if (config.workers.has('welcome') && customerContactApp && contactWays) {
    workers.push(...startWelcomeWorkers(workerRedis, { app: customerContactApp, corpOf: (name) => findApp(config, name)?.corpId, api, activities, pool, contactWays, tagQueue, redis, prefix, metrics, logger }));
  }

  const readiness = [
    { name: 'redis', check: async () => (await redis.ping()) === 'PONG' },
    { name: 'workers', check: async () => workers.every((w) => w.isRunning()) },
    { name: 'templates', check: async () => templates.size > 0 },
  ];
  // Every queue, for the depth metrics and the dashboard alike.
  const queues = [sendQueue, inbound.queue, welcomeQueue, tagQueue, storm.digestQueue, statusCallbacks.queue, ...(forwardOutbox ? [forwardOutbox.queue] : [])];
  metrics.addQueueCollector(async () => {
    for (const queue of queues) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => ({}) as Record<string, number>);
      for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ queue: queue.name, state }, count);
      const [oldest] = await queue.getJobs(['waiting'], 0, 0, true).catch(() => []);
      metrics.queueOldestAge.set({ queue: queue.name }, oldest ? (Date.now() - oldest.timestamp) / 1000 : 0);
    }
  });

  const routes = [
    ...messageRoutes(service, store, templates, { store, queue: sendQueue, api, findApp: (name) => findApp(config, name) }),
    ...alertRoutes(service, storm, config.alerts, metrics),
    ...callbackRoutes({
      apps: config.apps,
      defaultApp: config.defaultApp,
      settings: config.callback,
      prefix,
      redis,
      inbound,
      router,
      autoReplies: new AutoReplies(config.callback.autoReplies),
      allowlists,
      metrics,
      logger,
    }),
    ...deadLetterRoutes('/v1/inbound/dead-letters', () => forwardOutbox, 'INBOUND_WEBHOOK_URL'),
    ...deadLetterRoutes('/v1/status-callbacks/dead-letters', () => statusCallbacks, 'status callbacks'),
    ...contactRoutes(directory, syncDispatcher, config.contacts.piiKeys),
    ...(contactWays ? welcomeRoutes(activities, pool, contactWays, redis, prefix) : []),
    ...opsRoutes(metrics, readiness, () => diagnose(config, api)),
  ];
  const app = createApp({
    routes,
    apiKeys: config.apiKeys,
    pages: [{ path: '/dashboard', permission: 'admin', router: dashboard(queues, store) }],
    rateLimit: config.rateLimitPerMinute > 0 ? rateLimitPerKey(redis, prefix, config.rateLimitPerMinute) : undefined,
    bodyLimit: config.bodyLimit,
    trustProxy: config.callback.trustProxy,
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
    router,
    inbound,
    directory,
    pool,
    storm,
    routes,
    async close() {
      // Workers first: in-flight sends finish (or go back to the queue) before connections close.
      for (const allowlist of allowlists.values()) allowlist.stop();
      await Promise.all([...workers.map((w) => w.close()), syncDispatcher?.stop()]);
      await Promise.all([sendQueue.close(), inbound.close(), forwardOutbox?.close(), welcomeQueue.close(), tagQueue.close(), storm.close(), statusCallbacks.close()]);
      await client.close();
      await Promise.allSettled([redis.quit(), queueRedis.quit(), workerRedis.quit(), directory.close()]);
    },
  };
}
