import type { Queue, Worker } from 'bullmq';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { wireAlerts } from './alerts/wire';
import { createApp } from './app';
import type { EventRouter } from './callback/event-router';
import { wireChats } from './chats/wire';
import { loadExtensions } from './callback/extensions';
import { wireCallback } from './callback/wire';
import type { Config } from './config/config';
import { wireContacts } from './contacts/wire';
import { closeFlows, connectCore, type Flow } from './core';
import type { Route } from './http/route';
import { loadTemplates } from './messages/templates';
import { wireMessages } from './messages/wire';
import { createLogger } from './ops/logger';
import { wireOps } from './ops/wire';
import { AuthFailureThrottle, rateLimitPerKey } from './quotas/api-rate-limit';
import { wireWebhooks } from './webhooks/wire';
import { wireWelcome } from './welcome/wire';

/** One gateway instance, as server.ts serves it and the tests drive it. */
export interface Gateway {
  app: Express;
  /** Every HTTP route, as openapi.yaml names them. */
  routes: Route[];
  /** The event keys the templates define. */
  events: string[];
  /** Every queue by name (send, inbound, welcome…), and the workers this instance runs. */
  queues: Map<string, Queue>;
  workers: Worker[];
  /** The callback rules table. */
  router: EventRouter;
  close(): Promise<void>;
}

export async function createGateway(config: Config, options: { logger?: Logger; clock?: () => number } = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel, config.logFormat);
  // Before any connection: broken templates or extensions stop start-up with nothing to clean up.
  const templates = loadTemplates(config.templatesDir);
  const extensionRules = await loadExtensions(config.extensions, { send: (message) => messages.send(message), logger });

  const core = await connectCore(config, logger, options.clock);
  const webhooks = wireWebhooks(core, config);
  const chats = wireChats(core, config);
  const messages = await wireMessages(core, config, { templates, statusCallbacks: webhooks.statusCallbacks, chats: chats.directory });
  const contacts = await wireContacts(core, config);
  const alerts = wireAlerts(core, config, { messages: messages.service, store: messages.store, nameOf: contacts.nameOf });
  const welcome = wireWelcome(core, config);
  const served: Flow[] = [messages, chats, alerts, webhooks, contacts, welcome];
  // Callback pushes go to the flows' rules, then operators' rules, then forwarding.
  const rules = [...served.flatMap((f) => f.rules ?? []), ...extensionRules];
  const callback = await wireCallback(core, config, { rules, forwarding: webhooks.inboundForwarding });
  const flows: Flow[] = [...served, callback];
  const ops = wireOps(core, config, { flows, messages });
  flows.push(ops);

  const routes = flows.flatMap((f) => f.routes ?? []);
  const app = createApp({
    routes,
    apiKeys: config.apiKeys,
    pages: ops.pages,
    rateLimit: config.rateLimitPerMinute > 0 ? rateLimitPerKey(core.redis, core.keys.rateLimit, config.rateLimitPerMinute) : undefined,
    // Wrong keys per source address, counted across instances.
    authFailures: new AuthFailureThrottle({ failures: config.authFailuresPerMinute, redis: core.redis, keyPrefix: core.keys.authFailures }),
    bodyLimit: config.bodyLimit,
    accessLog: config.accessLog,
    trustProxy: config.callback.trustProxy,
    logger,
    metrics: core.metrics,
  });
  const queues = flows.flatMap((f) => f.queues ?? []);
  return {
    app,
    routes,
    events: [...templates.keys()],
    queues: new Map(queues.map((q) => [q.name, q])),
    workers: flows.flatMap((f) => f.workers ?? []),
    router: callback.router,
    close: () => closeFlows(core, flows),
  };
}
