import type { Core, Flow } from '../core';
import { EgressPolicy } from '../http/egress';
import { egressAgent } from '../http/egress-request';
import { QUEUES } from '../queues/catalog';
import { deadLetterRoutes } from './dead-letter-routes';
import { WebhookOutbox } from './webhook-outbox';
import type { WebhooksSettings } from './webhooks-config';

export interface WebhooksFlow extends Flow {
  statusCallbacks: WebhookOutbox;
  /** Present with INBOUND_WEBHOOK_URL. */
  inboundForwarding?: WebhookOutbox;
}

/**
 * Signed downstream webhooks, each a durable queue with retries and dead letters:
 * final statuses to a request's callbackUrl, and (with INBOUND_WEBHOOK_URL) the
 * messages users send to the app. Other flows add to them; this room delivers.
 * A request's callbackUrl is the caller's: it goes out under the egress policy
 * and its whole-request timeout; the operator's URLs go out as configured.
 */
export function wireWebhooks(core: Core, config: WebhooksSettings): WebhooksFlow {
  // Each is delivered by the instances that run the flow feeding it (its catalog row's role).
  const common = { timeoutMs: 5_000, roles: config.workers, settings: { RETRY_BASE_DELAY_MS: config.send.retryBaseDelayMs } };
  const egress = egressAgent(EgressPolicy.fromConfig(config), config.egress);
  const statusCallbacks = new WebhookOutbox(core, QUEUES.statusCallbacks, {
    ...common,
    secret: config.statusCallbackSecret,
    timeoutMs: config.egress.timeoutMs,
    egress,
  });
  const inboundForwarding = config.inboundWebhookUrl
    ? new WebhookOutbox(core, QUEUES.forwardInbound, {
        ...common,
        url: config.inboundWebhookUrl,
        secret: config.callback.inboundWebhookSecret,
      })
    : undefined;
  const workers = [statusCallbacks.worker, inboundForwarding?.worker].filter((w) => w !== undefined);
  return {
    statusCallbacks,
    inboundForwarding,
    routes: [
      ...deadLetterRoutes('/v1/inbound/dead-letters', () => inboundForwarding, 'INBOUND_WEBHOOK_URL'),
      ...deadLetterRoutes('/v1/status-callbacks/dead-letters', () => statusCallbacks, 'status callbacks'),
    ],
    workers,
    queues: [statusCallbacks.queue, ...(inboundForwarding ? [inboundForwarding.queue] : [])],
    close: async () => {
      await Promise.all([statusCallbacks.close(), inboundForwarding?.close()]);
      await egress.close();
    },
  };
}
