import type { Core, EventRule, Flow } from '../core';
import type { WebhookOutbox } from '../webhooks/webhook-outbox';
import { AutoReplies } from './auto-reply';
import type { CallbackSettings } from './callback-config';
import { callbackRoutes } from './callback-routes';
import { EventRouter } from './event-router';
import { inboundForwardingRules } from './forward-inbound';
import { InboundQueue } from './inbound-queue';
import { CallbackIpAllowlist } from './ip-allowlist';

export interface CallbackFlow extends Flow {
  router: EventRouter;
}

/**
 * WeCom's callback endpoint: verification, decryption, process-once, passive
 * replies; each push goes to the first rule that matches it: the other flows'
 * rules (and operators' extensions) in the order given, then forwarding of user
 * messages to INBOUND_WEBHOOK_URL.
 */
export async function wireCallback(
  core: Core,
  config: CallbackSettings,
  deps: { rules: EventRule[]; forwarding?: WebhookOutbox },
): Promise<CallbackFlow> {
  const forwarding = deps.forwarding ? inboundForwardingRules(deps.forwarding, core.clock) : [];
  const router = new EventRouter(core.logger, [...deps.rules, ...forwarding]);
  const inbound = new InboundQueue({ ...core, roles: config.workers }, router, (rule) => core.metrics.inboundHandled.inc({ rule }));
  const allowlists = new Map<string, CallbackIpAllowlist>();
  if (config.callback.ipAllowlist === 'wecom') {
    for (const app of config.apps.filter((a) => a.callback)) allowlists.set(app.name, new CallbackIpAllowlist(core.api, app, core.logger));
    await Promise.all([...allowlists.values()].map((a) => a.start()));
  }
  const routes = callbackRoutes({
    apps: config.apps,
    defaultApp: config.defaultApp,
    settings: config.callback,
    keys: core.keys,
    redis: core.redis,
    inbound,
    router,
    autoReplies: new AutoReplies(config.callback.autoReplies),
    allowlists,
    metrics: core.metrics,
    logger: core.logger,
    replicated: core.replicated,
  });
  return {
    router,
    routes,
    workers: inbound.worker ? [inbound.worker] : [],
    queues: [inbound.queue],
    close: async () => {
      for (const allowlist of allowlists.values()) allowlist.stop();
      await inbound.close();
    },
  };
}
