import type { Queue, Worker } from 'bullmq';
import { gatewayServerLimits, type ServerLimits } from './http/server-limits';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { OnCallDirectory } from './messages/oncall-recipients';
import { checkPhone } from './alerts/phone/wire';
import { wireAlerts } from './alerts/wire';
import { createApp } from './app';
import type { EventRouter } from './callback/event-router';
import { wireChats } from './chats/wire';
import { wireCompat } from './compat/wire';
import { ApiKeys } from './http/auth';
import { loadExtensions } from './callback/extensions';
import { wireCallback } from './callback/wire';
import type { Config } from './config/config';
import { wireConsole } from './console/wire';
import { wireContacts } from './contacts/wire';
import { closeFlows, connectCore, type Flow } from './core';
import type { Route } from './http/route';
import { TemplateLoadError } from './messages/template-source';
import { loadTemplates, type EventTemplate } from './messages/templates';
import { wireMessages } from './messages/wire';
import { OnCall } from './oncall/on-call';
import { wireOnCall } from './oncall/wire';
import { createLogger } from './ops/logger';
import { wireOps } from './ops/wire';
import { findApp } from './wecom/app';
import { AuthFailureThrottle, rateLimitPerKey } from './http/rate-limit';
import { wireWebhooks } from './webhooks/wire';
import { loadActivities, type Activities } from './welcome/activities';
import { wireWelcome } from './welcome/wire';

/** One gateway instance, as server.ts serves it and the tests drive it. */
export interface Gateway {
  app: Express;
  /** What the HTTP server serving `app` bounds (server-limits.ts); its refusals are counted and logged. */
  serverLimits: ServerLimits;
  /** Every HTTP route, as openapi.yaml names them. */
  routes: Route[];
  /** The event keys the templates define (as last loaded). */
  readonly events: string[];
  /** Every queue by name (send, inbound, welcome…), and the workers this instance runs. */
  queues: Map<string, Queue>;
  workers: Worker[];
  /** The callback rules table. */
  router: EventRouter;
  /**
   * Reads TEMPLATES_DIR again (event templates and welcome activities), as SIGHUP
   * asks: all of it is taken, or, at the first problem, none of it (the previous
   * templates stay in use). Logs what was loaded, or the problems.
   */
  reloadTemplates(): TemplatesReload;
  close(): Promise<void>;
}

export type TemplatesReload = { ok: true; events: string[]; activities: string[] } | { ok: false; problems: string[] };

export async function createGateway(
  config: Config,
  options: { logger?: Logger; clock?: () => number; oncall?: OnCallDirectory } = {},
): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel, config.logFormat);
  // Before any connection: broken templates or extensions stop start-up with nothing to clean up.
  const templates = loadTemplates(config.templatesDir);
  const activities = loadActivities(config.templatesDir, { sandbox: config.sandbox });
  const schedules = options.oncall ?? { has: (name: string) => config.oncall.some((s) => s.name === name) };
  checkPhone(config.alerts.phone, config.alerts.publicUrl, { routes: config.alerts.routes, templates }, schedules);
  const extensionRules = await loadExtensions(config.extensions, { send: (message) => messages.send(message), logger });

  const core = await connectCore(config, logger, options.clock);
  // Who is on call: messages and alerts resolve on-call recipients through it when they send (a test may bring its own).
  const onCall = new OnCall(core.redis, { keys: core.keys, schedules: config.oncall, clock: core.clock });
  const directory = options.oncall ?? onCall;
  const webhooks = wireWebhooks(core, config);
  const chats = wireChats(core, config);
  const messages = await wireMessages(core, config, {
    templates,
    statusCallbacks: webhooks.statusCallbacks,
    chats: chats.directory,
    oncall: directory,
  });
  // Wrong keys per source address, counted across instances: one count, one key checker for /v1 and /cgi-bin/.
  const authFailures = new AuthFailureThrottle({
    failures: config.authFailuresPerMinute,
    redis: core.redis,
    keyPrefix: core.keys.authFailures,
  });
  const keys = new ApiKeys(config.apiKeys, authFailures);
  // WeCom's own API (/cgi-bin/), answered through the same pipeline.
  const compat = wireCompat(core, config, { messages: messages.service, recall: messages.recall, keys, failures: authFailures });
  const contacts = await wireContacts(core, config);
  const alerts = wireAlerts(core, config, {
    messages: messages.service,
    store: messages.store,
    nameOf: contacts.nameOf,
    contactOf: contacts.contactOf,
    oncall: directory,
  });
  const welcome = wireWelcome(core, config, { activities });
  const oncall = await wireOnCall(core, config, {
    onCall,
    messages: messages.service,
    // The alerts still open, listed in each handoff message.
    openAlerts: async () =>
      (await alerts.groups.recent(500))
        .filter((g) => g.status !== 'resolved')
        .map((g) => ({ id: g.id, title: g.title, severity: g.severity, status: g.status, firingSince: g.firingSince, acked: g.acked?.by })),
    isMember: config.contacts.sinks.length > 0 ? async (id) => (await contacts.nameOf(id)) !== undefined : undefined,
  });
  const served: Flow[] = [messages, compat, chats, alerts, webhooks, contacts, welcome, oncall];
  // Callback pushes go to the flows' rules, then operators' rules, then forwarding.
  const rules = [...served.flatMap((f) => f.rules ?? []), ...extensionRules];
  const callback = await wireCallback(core, config, { rules, forwarding: webhooks.inboundForwarding });
  const flows: Flow[] = [...served, callback];
  const ops = wireOps(core, config, { flows });
  // The console reads the flows; no flow reads the console.
  const consoleSettings = {
    apps: config.apps.map((a) => a.name),
    robots: config.robots.map((r) => r.name),
    timeZone: config.alerts.timeZone,
    duplicateCheckSeconds: config.send.duplicateCheckSeconds,
    sinks: config.contacts.sinks.map((s) => s.name),
    alertRoutes: config.alerts.routes.map((r) => r.name),
    webLogin: { ...config.webLogin, app: findApp(config) },
  };
  const dashboard = wireConsole(core, consoleSettings, { flows, messages, alerts, contacts, onCall });
  flows.push(ops, dashboard);

  const routes = flows.flatMap((f) => f.routes ?? []);
  const app = createApp({
    routes,
    apiKeys: config.apiKeys,
    pages: dashboard.pages,
    protocols: compat.protocols,
    rateLimit: config.rateLimitPerMinute > 0 ? rateLimitPerKey(core.redis, core.keys.rateLimit, config.rateLimitPerMinute) : undefined,
    keys,
    bodyLimit: config.bodyLimit,
    accessLog: config.accessLog,
    trustProxy: config.callback.trustProxy,
    logger,
    metrics: core.metrics,
  });
  const queues = flows.flatMap((f) => f.queues ?? []);
  const reloadTemplates = reloader(config.templatesDir, { sandbox: config.sandbox, templates, activities, logger });
  return {
    app,
    serverLimits: gatewayServerLimits(config, app, { metrics: core.metrics, logger, clock: core.clock }),
    routes,
    get events() {
      return [...templates.keys()];
    },
    queues: new Map(queues.map((q) => [q.name, q])),
    workers: flows.flatMap((f) => f.workers ?? []),
    router: callback.router,
    reloadTemplates,
    close: () => closeFlows(core, flows),
  };
}

/**
 * Every reader (routes, the send service, alert flows, workers, the console) holds
 * the same map and Activities: a reload replaces their contents in one
 * synchronous step, so no request sees half of the old set and half of the new.
 */
function reloader(
  dir: string,
  live: { sandbox: boolean; templates: Map<string, EventTemplate>; activities: Activities; logger: Logger },
): () => TemplatesReload {
  return () => {
    let next: { templates: Map<string, EventTemplate>; activities: Activities };
    try {
      next = { templates: loadTemplates(dir), activities: loadActivities(dir, { sandbox: live.sandbox }) };
      // An empty folder is a volume being remounted or a wrong path, not the wish to send nothing.
      if (next.templates.size === 0)
        throw new TemplateLoadError([`${dir}: no event templates (*.yaml, *.yml, *.json) at the top of the folder`]);
    } catch (error) {
      // Whatever went wrong, a running gateway keeps serving with what it has.
      const problems = error instanceof TemplateLoadError ? error.problems : [`${dir}: ${(error as Error).message}`];
      live.logger.error({ dir, problems }, `templates not reloaded (the previous ones stay in use): ${problems.join('; ')}`);
      return { ok: false, problems };
    }
    live.templates.clear();
    for (const [event, template] of next.templates) live.templates.set(event, template);
    live.activities.replaceWith(next.activities);
    const events = [...next.templates.keys()];
    const activities = next.activities.list.map((a) => a.name);
    live.logger.info(
      { dir, events, activities },
      `templates reloaded from ${dir}: ${events.length} events, ${activities.length} ` +
        `welcome ${activities.length === 1 ? 'activity' : 'activities'}`,
    );
    return { ok: true, events, activities };
  };
}
