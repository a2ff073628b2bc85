import { DelayedError, Queue, type ConnectionOptions, type Job } from 'bullmq';
import { QUEUES } from '../queues/catalog';
import { jobOptionsOf } from '../queues/define-queue';
import type { MessageStore } from './message-store';
import type { Priority } from './templates';
import type { ChatMessage } from '../wecom/group-chat';
import type { SendRecipients } from '../wecom/message-payload';
import type { OnCallMentions } from './oncall-mentions';

/** A part for members: one message/send call with its rendered body. */
export interface MemberSend {
  to: SendRecipients;
  /** On-call schedules whose users join `to` when the part is sent (oncall-recipients.ts). */
  oncall?: string[];
  body: Record<string, unknown>;
}

/** A group robot (by name) or an app group chat (by chatid). */
export type GroupTarget = { robot: string } | { chat: string };

/**
 * A part for a group: its messages (a long text's numbered parts) go in order,
 * one webhook/send or appchat/send each; `delivered` of them went already, so a
 * retry goes on from the next one.
 */
export interface GroupSend {
  group: GroupTarget;
  messages: ChatMessage[];
  delivered?: number;
  /** `mentions.oncall`: whoever is on call is @-mentioned when the part is sent (oncall-mentions.ts). */
  mentionOncall?: OnCallMentions;
}

/** One part of a message, with its already rendered body. */
export type SendJobData = {
  messageId: string;
  part: number;
  app: string;
  event: string;
  /** The message's type as asked (a group's messages carry the type they go as). */
  msgtype: string;
  requestId?: string;
  acceptedAt: number;
  priority?: Priority;
  /** Beyond its owner's send share: how many whole shares beyond (see SendShare); queued after every part within a share. */
  backlog?: number;
  /** The request named a callbackUrl: the worker asks whether the message is final after each part. */
  notifyFinal?: boolean;
  /** Who sent it: the caller's id ('gateway' for the gateway's own); its file downloads share that caller's slots. */
  owner?: string;
  /** The caller opted out of coalescing (the request's `coalesce: false`, or its key's): never merged with other parts. */
  coalesce?: false;
} & (MemberSend | GroupSend);

/**
 * A part's send id: its job id, its robot-line entry, its budget entry and WeCom's
 * duplicate-check seed. `<message>_<part>`, since BullMQ refuses ":" in ids.
 */
export function sendIdOf(data: Pick<SendJobData, 'messageId' | 'part'>): string {
  return `${data.messageId}_${data.part}`;
}

/** The message and part a send id names. */
export function partOfSendId(sendId: string): { messageId: string; part: number } {
  const at = sendId.lastIndexOf('_');
  return { messageId: sendId.slice(0, at), part: Number(sendId.slice(at + 1)) };
}

/**
 * Puts a part's job back until `until` (by `clock`) without spending an attempt (from inside its
 * processor), saying why it waits. BullMQ times its jobs by the wall clock: the wait is moved there.
 */
export async function waitUntil(
  store: MessageStore,
  job: Job<SendJobData>,
  token: string | undefined,
  until: number,
  reason: string,
  clock: () => number,
): Promise<never> {
  // Never over `sent`: a carrier may have sent this part with its own meanwhile (coalesce.ts).
  await store.updateOpenPart(job.data.messageId, job.data.part, { status: 'deferred', attempts: job.attemptsMade, until, reason });
  await job.moveToDelayed(Date.now() + (until - clock()), token);
  throw new DelayedError();
}

/** Names a part's destination in statuses and logs: `robot ops`, `chat abc`, or `members`. */
export function destinationOf(data: MemberSend | GroupSend): string {
  if (!('group' in data)) return 'members';
  return 'robot' in data.group ? `robot ${data.group.robot}` : `chat ${data.group.chat}`;
}

/**
 * BullMQ runs jobs without a priority before any prioritized job, lower numbers
 * first among the rest. Each class has a band: `high` within its key's share has
 * no priority; a part beyond its key's share goes after the parts of its class
 * within a share, one step per share beyond, and still before the next class, so
 * one key's flood never stands in front of another key's alert, and a key's own
 * alert never waits behind its own reports.
 */
const PRIORITY_BAND: Record<Priority, number> = { high: 0, normal: 1_000, bulk: 2_000 };
const MAX_BACKLOG_STEPS = PRIORITY_BAND.normal - 2;

/**
 * A part's place in the queue: its class's band, and how far beyond its key's share it is. A deferred part keeps it (the data carries it).
 */
export function queuePriority(data: Pick<SendJobData, 'priority' | 'backlog'>): number | undefined {
  const beyond = data.backlog === undefined ? 0 : 1 + Math.min(data.backlog, MAX_BACKLOG_STEPS);
  return PRIORITY_BAND[data.priority ?? 'normal'] + beyond || undefined;
}

export interface RetryPolicy {
  attempts: number;
  retryBaseDelayMs: number;
}

/** The send queue alone, without a worker (the flow's is defineQueue's: messages/wire.ts). */
export function createSendQueue(connection: ConnectionOptions, queuePrefix: string): Queue<SendJobData> {
  return new Queue<SendJobData>(QUEUES.send.name, { connection, prefix: queuePrefix });
}

/** Adds every part of a message in one call. The job id is the send id, so adding the same part twice is a no-op. */
export async function enqueueParts(queue: Queue<SendJobData>, jobs: SendJobData[], policy: RetryPolicy, delayMs = 0): Promise<void> {
  // Exponential backoff with jitter (the catalog's row) so a WeCom hiccup does not come back as a synchronized wave.
  const options = jobOptionsOf(QUEUES.send, { SEND_ATTEMPTS: policy.attempts, RETRY_BASE_DELAY_MS: policy.retryBaseDelayMs });
  const entries = jobs.map((data) => ({
    name: data.event,
    data,
    opts: {
      jobId: sendIdOf(data),
      ...options,
      ...(delayMs > 0 ? { delay: delayMs } : {}),
      ...(queuePriority(data) ? { priority: queuePriority(data) } : {}),
    },
  }));
  // One script call for the usual single-part message; addBulk (a MULTI) only when there are several.
  if (entries.length === 1) await queue.add(entries[0].name, entries[0].data, entries[0].opts);
  else await queue.addBulk(entries);
}
