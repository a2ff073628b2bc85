import type { Queue } from 'bullmq';
import type { WecomApp } from '../wecom/app';
import { visibleTo, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import type { WecomApi } from '../wecom/wecom-api';
import type { MessageStore, MessageView } from './message-store';
import { sendIdOf, type SendJobData } from './send-queue';

/** WeCom recalls messages up to 24 hours old (reference §2.4). */
const RECALL_WINDOW_MS = 24 * 3_600_000;

export interface RecallDeps {
  store: MessageStore;
  queue: Queue<SendJobData>;
  api: WecomApi;
  findApp: (name: string) => WecomApp | undefined;
}

/**
 * Takes a message back: parts WeCom delivered are recalled with message/recall,
 * parts still waiting are cancelled, and the status becomes `recalled`. Only its
 * creator or an admin may: to another caller it does not exist.
 */
export async function recallMessage(id: string, deps: RecallDeps, caller: Caller): Promise<MessageView> {
  const view = await deps.store.get(id);
  if (!view || !visibleTo(view, caller)) throw new ApiError(404, 'not_found', `no message ${id}`);
  if (Date.now() - Date.parse(view.createdAt) > RECALL_WINDOW_MS) throw new ApiError(409, 'too_old', 'WeCom recalls messages only within 24 hours of sending');
  const app = deps.findApp(view.app);
  if (!app) throw new ApiError(409, 'unknown_app', `app ${view.app} is no longer configured`);
  const parts = await deps.store.parts(id);
  for (const [index, part] of parts.entries()) {
    if (part.status === 'sent' && part.msgid) {
      const outcome = await deps.api.recallMessage(app, part.msgid);
      if (outcome.kind !== 'ok') throw new ApiError(409, 'recall_refused', `WeCom refused the recall: ${outcome.error.errcode} ${outcome.error.errmsg}`);
    } else if (part.status === 'queued' || part.status === 'deferred') {
      const job = await deps.queue.getJob(sendIdOf({ messageId: id, part: index }));
      // A job a worker has just taken cannot be removed: BullMQ refuses a locked job.
      const removed = !job || (await job.remove().then(() => true, () => false));
      if (!removed) throw new ApiError(409, 'being_sent', 'a part is being sent right now; try again in a moment');
    } else if (part.status === 'sending') {
      throw new ApiError(409, 'being_sent', 'a part is being sent right now; try again in a moment');
    } else {
      continue; // failed or already recalled: nothing to take back
    }
    await deps.store.updatePart(id, index, { ...part, status: 'recalled' });
  }
  return (await deps.store.get(id))!;
}
