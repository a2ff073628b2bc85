import type { EgressConfig } from '../http/egress';

/** What the outbound webhooks read from the configuration (wire.ts). */
export interface WebhooksSettings {
  send: { retryBaseDelayMs: number };
  /** A request's callbackUrl goes out under the egress policy; `port` is the gateway's own, which it refuses. */
  egress: EgressConfig;
  port: number;
  /** HMAC key for the status callbacks (a request's callbackUrl). */
  statusCallbackSecret?: string;
  inboundWebhookUrl?: string;
  callback: { inboundWebhookSecret?: string };
  /** WORKERS: the worker roles this instance runs. */
  workers: Set<string>;
}
