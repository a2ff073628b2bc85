import type { WebhookOutbox } from '../webhooks/webhook-outbox';
import type { MessageStore } from './message-store';

/**
 * The final status (sent or failed) of a message whose request named a
 * callbackUrl, POSTed there once: signed, retried, never in the way of sending.
 * Called after each part of such a message; the first call that finds the
 * message final queues the delivery (its id makes any later call a no-op).
 */
export function statusCallbacks(store: MessageStore, outbox: WebhookOutbox, clock: () => number): (messageId: string) => Promise<void> {
  return async (messageId) => {
    const view = await store.get(messageId);
    if (!view?.callbackUrl || (view.status !== 'sent' && view.status !== 'failed')) return;
    const { callbackUrl, ...status } = view;
    await outbox.add({ id: `${messageId}_final`, url: callbackUrl, body: status, createdAt: clock() });
  };
}
