import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { GATEWAY_CALLER_ID, LOCAL_CALLER, type Caller } from '../http/auth';
import { ApiError, RetryLaterError, UnavailableError } from '../http/errors';
import { RedisUnavailableError } from '../redis/unavailable';
import { childrenOf, type Metrics } from '../ops/metrics';
import type { RecipientCap } from '../budgets/recipient-cap';
import type { RobotLine } from '../budgets/robot-line';
import type { SendShare } from '../budgets/send-share';
import type { MessagesSettings } from './messages-config';
import { foldStatus, recipientsSummary, type MessageRecord, type MessageStatus } from './message-record';
import type { MessageStore } from './message-store';
import { prepare, type PrepareDeps, type PreparedMessage } from './prepare';
import { prepareRendered, renderedRequest, type RenderedMessage } from './prepare-rendered';
import { authorize, authorizeChats, requestHash, type ChatAccess, type SendRequest } from './send-request';
import { destinationOf, enqueueParts, sendIdOf, type SendJobData } from './send-queue';

/** What accepting reads and writes: what preparing and the chats' owners read, the budgets, the store and the send queue. */
export interface AcceptDeps extends PrepareDeps, ChatAccess {
  config: Pick<MessagesSettings, 'apps' | 'defaultApp' | 'send' | 'wechatReaders' | 'robots'>;
  /** Distinct users each key may name an hour; absent = no cap. */
  recipientCap?: Pick<RecipientCap, 'name'>;
  /** Each key's share of the send queue: parts beyond it wait behind other keys'; absent = no share. */
  share?: Pick<SendShare, 'take'>;
  /** The robots' lines: a robot's parts go in the order they were accepted. */
  robotLines?: Pick<RobotLine, 'join' | 'leave'>;
  store: MessageStore;
  queue: Queue<SendJobData>;
  metrics: Metrics;
  /** How long accepting may take before the caller gets a 503 instead of a hang. */
  storeTimeoutMs?: number;
  /** Resolves once Redis replicas hold what was written (Core.replicated); absent = the master's word is enough. */
  replicated?: () => Promise<void>;
  /** The time a message is accepted at (Core.clock); absent, the wall clock. */
  clock?: () => number;
}

/**
 * Who sends (none: the gateway on its own account: storm digests, extensions), the
 * request's id, the name the caller gave the idempotency key (a 422 names it), and
 * `configuredChats`: chats the operator's configuration names for this send (an alert route's).
 */
export interface AcceptContext {
  caller?: Caller;
  requestId?: string;
  idempotencyField?: string;
  configuredChats?: string[];
}

export interface Accepted {
  id: string;
  created: boolean;
  status: MessageStatus;
}

/** The record as persisted, with whose it is always named. */
type Draft = MessageRecord & { createdBy: string };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      // A step over Redis that does not end in time is Redis not answering (each command has its own deadline too).
      timer = setTimeout(() => reject(new RedisUnavailableError(new Error(`no answer within ${ms} ms`))), ms);
    }),
  ]);
}

/** Redis away while accepting is a 503 to the caller, who may retry; anything else is ours. */
const unavailableAs503 = (error: unknown) => (error instanceof RedisUnavailableError ? new UnavailableError() : error);

/** Accepting a message: the message and its send jobs are persisted before the caller is answered. */
export class Acceptance {
  private readonly accepted: (labels: { event: string; msgtype: string }) => { inc(): void };

  constructor(private readonly deps: AcceptDeps) {
    this.accepted = childrenOf(deps.metrics.messagesAccepted);
  }

  /** A repeated idempotency key (of the same caller) answers the first id and its current status. */
  async accept(request: SendRequest, context: AcceptContext = {}): Promise<Accepted> {
    authorize(request, context.caller, this.deps.config.defaultApp);
    return this.acceptPrepared(request, prepare(request, this.deps), context);
  }

  /** A message its caller rendered (the WeCom-compatible API): the same scope, parts, budgets and persistence, without a template. */
  async acceptRendered(message: RenderedMessage, context: AcceptContext = {}): Promise<Accepted> {
    const request = renderedRequest(message);
    authorize(request, context.caller, this.deps.config.defaultApp);
    return this.acceptPrepared(request, prepareRendered(message, this.deps), context);
  }

  private async acceptPrepared(request: SendRequest, prepared: PreparedMessage, context: AcceptContext): Promise<Accepted> {
    const { caller } = context;
    await authorizeChats(request, caller, this.deps, context.configuredChats);
    // Last before persisting: a request refused for anything else counts no users.
    await this.countRecipients(request, caller);
    const draft = draftOf(request, prepared, context, (this.deps.clock ?? Date.now)());
    const first = await this.persist(draft, request.idempotencyKey);
    const jobs = jobsOf(first.id, draft, prepared, request);
    if (!first.created) return this.answerRepeat(first, draft, request, jobs, context.idempotencyField);
    await this.undoneOnFailure(draft, request.idempotencyKey, jobs, async () => {
      await this.robotLines(jobs, 'join');
      await enqueueParts(this.deps.queue, await this.withinShare(jobs), this.deps.config.send);
    });
    await this.confirmReplicated();
    this.accepted({ event: draft.event, msgtype: draft.msgtype }).inc();
    return { ...first, status: 'queued' };
  }

  private get timeoutMs(): number {
    return this.deps.storeTimeoutMs ?? 2_000;
  }

  /**
   * A key's distinct users an hour stay under its cap, which bounds the member budgets'
   * Redis keys it can cause (budgets/recipient-cap.ts): 429 naming to.users, with
   * Retry-After when waiting makes room. The gateway's own messages are not counted,
   * nor keyless mode's (the sandbox: one local user, no other team to protect).
   */
  private async countRecipients(request: SendRequest, caller: Caller | undefined): Promise<void> {
    if (!caller || caller.id === LOCAL_CALLER.id || !this.deps.recipientCap || request.to === '@all') return;
    const refusal = await this.deps.recipientCap.name(caller.id, request.to.users ?? [], caller.scope?.recipientsPerHour);
    if (!refusal) return;
    const cap = `this key may name at most ${refusal.cap} distinct users an hour`;
    const message =
      refusal.retryAfterSeconds === undefined
        ? `${cap} and this request alone names ${refusal.named}: ` +
          'split it, name departments or tags, or ask the operator for a larger recipientsPerHour'
        : `${cap}: the new ones in this request pass it; retry in ${refusal.retryAfterSeconds} s, or name departments or tags`;
    throw new RetryLaterError('recipient_limit', message, [{ field: 'to.users', message: cap }], refusal.retryAfterSeconds);
  }

  /** The record, with the idempotency key's claim: `created: false` names the first message that claimed it. */
  private async persist(draft: Draft, idempotencyKey: string | undefined) {
    try {
      return await withTimeout(this.deps.store.create(draft, idempotencyKey), this.timeoutMs);
    } catch (error) {
      throw unavailableAs503(error);
    }
  }

  /** Queueing within the deadline, or nothing half-accepted: the record and the robots' places are removed again. */
  private async undoneOnFailure(draft: Draft, idempotencyKey: string | undefined, jobs: SendJobData[], queueing: () => Promise<void>) {
    try {
      await withTimeout(queueing(), this.timeoutMs);
    } catch (error) {
      const claim = idempotencyKey === undefined ? undefined : { createdBy: draft.createdBy, key: idempotencyKey };
      await this.deps.store.remove(draft.id, claim).catch(() => undefined);
      await this.robotLines(jobs, 'leave').catch(() => undefined);
      throw unavailableAs503(error);
    }
  }

  /** A repeat of an idempotency key: refused if it carries another body, else the first message's status, confirmed as a 202 is. */
  private async answerRepeat(
    first: { id: string; created: boolean; requestHash?: string },
    draft: Draft,
    request: SendRequest,
    jobs: SendJobData[],
    field = 'idempotencyKey',
  ): Promise<Accepted> {
    this.refuseReusedKey(first, request, draft.createdBy, field);
    const status = await this.repeat(first.id, jobs);
    await this.confirmReplicated();
    return { ...first, status };
  }

  /**
   * A caller's key reused for another request would otherwise answer the first
   * message and silently drop this one: 422. A first message without a hash
   * (accepted before hashes were kept) counts as the same. The gateway's own keys
   * are exempt: a retried escalation or digest may carry fresher data (a new task_id)
   * and must still find its first message.
   */
  private refuseReusedKey(first: { id: string; requestHash?: string }, request: SendRequest, createdBy: string, field: string): void {
    if (createdBy === GATEWAY_CALLER_ID || first.requestHash === undefined || first.requestHash === requestHash(request)) return;
    const message =
      `this ${field} was already used for another request (message ${first.id}) within the retention; ` +
      'a repeat must send the same body, a new message needs a new key';
    throw new ApiError(422, 'idempotency_key_reused', message, [{ field, message: 'already used for a different body' }]);
  }

  /**
   * With REDIS_WAIT_REPLICAS, no 202 before the replicas hold the record and its jobs.
   * When they do not confirm in time (a failover under way, a replica away), the master
   * may still have the message and send it, or lose it: the caller cannot know, so it
   * retries with the same Idempotency-Key, which answers the message's id if it lives.
   */
  private async confirmReplicated(): Promise<void> {
    try {
      await this.deps.replicated?.();
    } catch {
      throw new ApiError(503, 'unavailable', 'Redis replicas did not confirm the message in time; retry with the same Idempotency-Key');
    }
  }

  /**
   * A repeat of an idempotency key answers the first message's current status (it may
   * be sent or recalled by now). If the first request died between persisting and
   * queueing (a crash, a lost Redis write), its id would never be sent: while no part
   * has been tried, the repeat queues the parts again. Job ids make this a no-op when
   * the jobs exist (also while the first request is still queueing them).
   */
  private async repeat(id: string, jobs: SendJobData[]): Promise<MessageStatus> {
    const parts = await this.deps.store.parts(id);
    if (parts.length === jobs.length && parts.every((p) => p.status === 'queued' && p.attempts === 0)) {
      await this.robotLines(jobs, 'join').catch(() => undefined);
      await enqueueParts(this.deps.queue, jobs, this.deps.config.send).catch(() => undefined);
    }
    return foldStatus(parts);
  }

  /**
   * A key's parts beyond its send share are marked as backlog: they go after every
   * key's parts within its share. The gateway's own messages (digests, escalations) have no share.
   */
  private async withinShare(jobs: SendJobData[]): Promise<SendJobData[]> {
    const owner = jobs[0]?.owner;
    if (!this.deps.share || !owner || owner === GATEWAY_CALLER_ID) return jobs;
    const beyond = await this.deps.share.take(owner, jobs.length);
    return jobs.map((job, i) => (beyond[i] === undefined ? job : { ...job, backlog: beyond[i] }));
  }

  /** A robot's parts are sent in the order they joined its line: they join before they are queued, and leave if queueing fails. */
  private async robotLines(jobs: SendJobData[], step: 'join' | 'leave'): Promise<void> {
    const lines = this.deps.robotLines;
    if (!lines) return;
    for (const job of jobs) if ('group' in job && 'robot' in job.group) await lines[step](job.group.robot, sendIdOf(job));
  }
}

/** The message's record: what it is, whose, to whom, and (with an idempotency key) the request's hash. */
function draftOf(request: SendRequest, prepared: PreparedMessage, context: AcceptContext, createdAt: number): Draft {
  return {
    id: randomUUID(),
    event: prepared.template.event,
    msgtype: prepared.msgtype,
    app: prepared.app.name,
    parts: prepared.parts.length,
    createdAt,
    requestId: context.requestId,
    callbackUrl: request.callbackUrl ?? prepared.template.callbackUrl,
    createdBy: context.caller?.id ?? GATEWAY_CALLER_ID,
    ...(prepared.parts.some((p) => 'group' in p) ? { destinations: prepared.parts.map(destinationOf) } : {}),
    recipients: recipientsSummary(request.to),
    ...(request.idempotencyKey !== undefined ? { requestHash: requestHash(request) } : {}),
    ...(optedOut(request, context) ? { coalesce: false as const } : {}),
  };
}

/** Whether the caller opted out of coalescing: the request or the key's scope says `coalesce: false`. */
function optedOut(request: SendRequest, context: AcceptContext): boolean {
  return request.coalesce === false || context.caller?.scope?.coalesce === false;
}

/** One send job per prepared part, under the id that answers the caller (the first message's, for a repeat). */
function jobsOf(messageId: string, draft: Draft, prepared: PreparedMessage, request: SendRequest): SendJobData[] {
  return prepared.parts.map((destination, part) => ({
    ...destination,
    messageId,
    part,
    app: draft.app,
    event: draft.event,
    requestId: draft.requestId,
    acceptedAt: draft.createdAt,
    owner: draft.createdBy,
    priority: request.priority ?? prepared.template.priority,
    ...(draft.callbackUrl ? { notifyFinal: true } : {}),
    ...(draft.coalesce === false ? { coalesce: false as const } : {}),
  }));
}
