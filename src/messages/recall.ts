import type { Queue } from 'bullmq';
import type { WecomApp } from '../wecom/app';
import { visibleTo, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import { recallMessage as messageRecall } from '../wecom/endpoints/message';
import type { WecomApi } from '../wecom/wecom-api';
import type { MessageView } from './message-record';
import type { MessageStore } from './message-store';
import { partOfSendId, sendIdOf, type SendJobData } from './send-queue';
import { RECALL_WINDOW_MS } from '../wecom/limits';

export interface RecallDeps {
  store: MessageStore;
  queue: Queue<SendJobData>;
  api: WecomApi;
  findApp: (name: string) => WecomApp | undefined;
  clock: () => number;
}

/** What a recall did to one part: a caller can tell a message taken back from one that could not be. */
export interface PartRecall {
  part: number;
  /** The part's destination: `members`, `robot ops`, `chat oncall`. */
  to: string;
  /**
   * recalled (WeCom took it back), cancelled (it was waiting: never sent),
   * not_recallable (delivered where WeCom has no recall), not_sent (it failed:
   * nothing to take back), already_recalled.
   */
  outcome: 'recalled' | 'cancelled' | 'not_recallable' | 'not_sent' | 'already_recalled';
  reason?: string;
}

/** WeCom's message/recall takes an app message's msgid; robots (webhook/send) and app chats (appchat/send) have no recall. */
function notRecallable(to: string): string {
  if (to.startsWith('robot ')) return 'robot messages cannot be recalled: WeCom has no recall for group robots';
  if (to.startsWith('chat ')) return 'app group chat messages cannot be recalled: WeCom has no recall for appchat/send';
  return 'WeCom gave no msgid for it, so it cannot be recalled';
}

/**
 * Takes a message back: parts WeCom delivered are recalled with message/recall,
 * parts still waiting are cancelled, and the status becomes `recalled`. What WeCom
 * cannot take back (a robot's or a chat's delivered part) stays as it is, and
 * `recall` says so part by part: a message only to a robot stays `sent`. Only its
 * creator or an admin may: to another caller it does not exist.
 */
export async function recallMessage(id: string, deps: RecallDeps, caller: Caller): Promise<MessageView & { recall: PartRecall[] }> {
  const view = await deps.store.get(id);
  if (!view || !visibleTo(view, caller)) throw new ApiError(404, 'not_found', `no message ${id}`);
  if (deps.clock() - Date.parse(view.createdAt) > RECALL_WINDOW_MS)
    throw new ApiError(409, 'too_old', 'WeCom recalls messages only within 24 hours of sending');
  const app = deps.findApp(view.app);
  if (!app) throw new ApiError(409, 'unknown_app', `app ${view.app} is no longer configured`);
  const parts = await deps.store.parts(id);
  // A part another message carried went inside that message's WeCom message: only recalling that one takes it back.
  const inside = parts.find((p) => p.status === 'sent' && p.msgid && p.coalescedInto && p.coalescedInto.messageId !== id);
  if (inside?.coalescedInto) {
    const carrier = inside.coalescedInto.messageId;
    throw new ApiError(409, 'not_recallable', `sent within message ${carrier}: recall that message (it is recalled as a whole)`);
  }
  const recall: PartRecall[] = [];
  for (const [index, part] of parts.entries()) {
    const to = view.deliveries?.[index]?.to ?? 'members';
    const outcome = (result: PartRecall['outcome'], reason?: string) =>
      recall.push({ part: index, to, outcome: result, ...(reason ? { reason } : {}) });
    if (part.status === 'sent' && part.msgid && part.coalescedInto) {
      // Carried by another part of this message: recalled with it (recallCarried), never a second time.
      outcome('recalled');
    } else if (part.status === 'sent' && part.msgid) {
      const answer = await deps.api.call(app, messageRecall(part.msgid));
      if (answer.kind !== 'ok')
        throw new ApiError(409, 'recall_refused', `WeCom refused the recall: ${answer.error.errcode} ${answer.error.errmsg}`);
      outcome('recalled');
      await recallCarried(deps, { messageId: id, part: index }, part.msgid);
    } else if (part.status === 'queued' || part.status === 'deferred') {
      const job = await deps.queue.getJob(sendIdOf({ messageId: id, part: index }));
      // A job a worker has just taken cannot be removed: BullMQ refuses a locked job.
      const removed =
        !job ||
        (await job.remove().then(
          () => true,
          () => false,
        ));
      if (!removed) throw new ApiError(409, 'being_sent', 'a part is being sent right now; try again in a moment');
      outcome('cancelled');
    } else if (part.status === 'sending') {
      throw new ApiError(409, 'being_sent', 'a part is being sent right now; try again in a moment');
    } else {
      if (part.status === 'sent') outcome('not_recallable', notRecallable(to));
      else if (part.status === 'failed') outcome('not_sent', 'it failed: nothing was delivered');
      else outcome('already_recalled');
      continue;
    }
    await deps.store.updatePart(id, index, { ...part, status: 'recalled' });
  }
  return { ...(await deps.store.get(id))!, recall };
}

/** The parts a recalled part's WeCom message carried (they share its msgid) are recalled with it. */
async function recallCarried(deps: RecallDeps, carrier: { messageId: string; part: number }, msgid: string): Promise<void> {
  for (const sendId of await deps.store.carriedBy(carrier.messageId, carrier.part)) {
    const { messageId, part } = partOfSendId(sendId);
    const state = await deps.store.getPart(messageId, part);
    if (state?.status === 'sent' && state.msgid === msgid) await deps.store.updatePart(messageId, part, { ...state, status: 'recalled' });
  }
}
