import type { WebhookOutbox } from '../webhooks/webhook-outbox';
import type { MessageStore } from './message-store';
import type { EventTemplate } from './templates';

/**
 * The final status (sent or failed) of a message whose request named a
 * callbackUrl, POSTed there once: signed, retried, never in the way of sending.
 * Called after each part of such a message; the first call that finds the
 * message final queues the delivery (its id makes any later call a no-op).
 * The event definition's own callbackUrl is the operator's and trusted as
 * configured; any other is the caller's, delivered under the egress policy.
 */
export function statusCallbacks(
  store: MessageStore,
  outbox: WebhookOutbox,
  clock: () => number,
  templates: Map<string, EventTemplate>,
): (messageId: string) => Promise<void> {
  return async (messageId) => {
    const view = await store.get(messageId);
    if (!view?.callbackUrl || (view.status !== 'sent' && view.status !== 'failed')) return;
    const { callbackUrl, ...status } = view;
    const configured = callbackUrl === templates.get(view.event)?.callbackUrl;
    await outbox.add({
      id: `${messageId}_final`,
      url: callbackUrl,
      body: status,
      createdAt: clock(),
      ...(configured ? { trusted: true } : {}),
    });
  };
}
