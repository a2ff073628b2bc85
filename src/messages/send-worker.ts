import type { Job } from 'bullmq';
import { failedForGood } from '../queues/define-queue';
import { settle, wecomResult, type Attempted, type Verdict } from '../queues/settle';
import type { Logger } from 'pino';
import type { WecomApp } from '../wecom/app';
import { childrenOf, type Metrics } from '../ops/metrics';
import type { MediaType } from '../wecom/endpoints/media';
import { sendMessage, type SendResult } from '../wecom/endpoints/message';
import { errcodeHint, GatewayErrcode } from '../wecom/errcodes';
import { buildSendPayload } from '../wecom/message-payload';
import type { Outcome, WecomError } from '../wecom/outcome';
import type { WecomApi } from '../wecom/wecom-api';
import { MediaResolver } from './media';
import { withFile, type PartFiles } from './media-queue';
import type { MemberBudget } from '../budgets/member';
import type { Carrier, Coalescer } from './coalesce';
import { MEDIA_MSGTYPES } from './templates';
import type { AttemptRecord } from './message-record';
import type { MessageStore } from './message-store';
import { deliverToGroup, leaveRobotLine, type GroupSendDeps } from './group-send';
import { destinationOf, sendIdOf, waitUntil, type MemberSend, type SendJobData } from './send-queue';
import { namedUsers, namesGroups, withUsers } from '../wecom/recipients';
import type { SendRecipients } from '../wecom/message-payload';
import { divideByBudget, resolvePart, type MemberTarget, type OnCallDirectory } from './oncall-recipients';

export interface SendWorkerDeps {
  store: MessageStore;
  /** Per-member budgets; absent = none. */
  budget?: MemberBudget;
  /** Merges parts waiting for the same member's budget (coalesce.ts); absent = never. */
  coalesce?: Coalescer;
  /** Called when a part of a message with a callbackUrl reached sent or failed: the message may be final now. */
  onPartDone?: (messageId: string) => Promise<void>;
  /** Queues the members split off by the budget as a new part of the message, to go at `until`. */
  deferPart: (data: SendJobData, until: number) => Promise<void>;
  api: WecomApi;
  media: MediaResolver;
  /** Files by URL, fetched by the media worker while the part waits. */
  files: PartFiles;
  /** Robots and chats: their budget, order and calls. */
  groups: GroupSendDeps;
  findApp: (name: string) => WecomApp | undefined;
  /** Who is on call: a part's `oncall` schedules become users when it is sent; absent = none configured. */
  oncall?: OnCallDirectory;
  duplicateCheckSeconds: number;
  metrics: Metrics;
  logger: Logger;
  clock: () => number;
}

/** The operator's hint, naming the robot or chat it is about (never a robot's key). */
function withHint(error: WecomError, data: SendJobData): { errcode: number; errmsg: string; hint?: string } {
  const hint = errcodeHint(error.errcode, error.errmsg);
  const about = destinationOf(data);
  if (!hint) return { ...error };
  return { ...error, hint: about === 'members' ? hint : `${about}: ${hint}` };
}

/** Only messages with a callbackUrl ask, after each part, whether they are final (it costs a full status read). */
async function reportPartDone(deps: SendWorkerDeps, data: SendJobData): Promise<void> {
  if (data.notifyFinal) await deps.onPartDone?.(data.messageId);
}

/**
 * The send processor's outcome table: WeCom's answer and the attempts so far decide.
 * ok -> done; permanent -> fail now; retry -> retry with backoff, or fail on the last
 * attempt; WeCom blocking the app (45009) -> pause the whole queue, whatever the attempt.
 */
export function sendVerdict(outcome: Outcome<unknown>, attempts: { attempt: number; maxAttempts: number }): Verdict {
  return settle(wecomResult(outcome), attempts);
}

/** Failed is final; paused and retried parts go back to the queue (a pause spends no attempt). */
export function partStatusAfter(verdict: Verdict): 'sent' | 'queued' | 'failed' {
  return verdict.kind === 'done' ? 'sent' : verdict.kind === 'fail' ? 'failed' : 'queued';
}

/** How the console's timeline names each verdict. */
const TIMELINE_OUTCOME: Record<Verdict['kind'], AttemptRecord['outcome']> = {
  done: 'sent',
  fail: 'failed',
  retry: 'retry',
  pause: 'paused',
};

/** One attempt of one send call; settle says what WeCom's answer leads to (sendVerdict's table), and the part records it. */
export function createSendProcessor(deps: SendWorkerDeps) {
  const { store, metrics } = deps;
  const sent = childrenOf(metrics.messagesSent);
  const latency = childrenOf(metrics.sendLatency);

  async function deliver(
    app: WecomApp,
    job: Job<SendJobData & MemberSend>,
    token: string | undefined,
    to: SendRecipients,
    merged?: Record<string, unknown>,
  ): Promise<Outcome<SendResult>> {
    const data = job.data;
    let body = merged ?? data.body;
    if (MEDIA_MSGTYPES.has(data.msgtype)) {
      const file = await deps.files.fetched(job, token, 0, { app: app.name }, data.msgtype, body);
      const resolved = file ? withFile(body, file) : await deps.media.resolve(app, data.msgtype as MediaType, body);
      if (resolved.kind !== 'ok') return resolved;
      body = resolved.value;
    }
    const payload = buildSendPayload(data.msgtype, body, to, {
      agentId: app.agentId,
      duplicateCheckSeconds: deps.duplicateCheckSeconds,
      sendId: sendIdOf(data),
    });
    return deps.api.call(app, sendMessage(payload));
  }

  /**
   * Members over their budget wait instead of being silently dropped by WeCom: with
   * nobody left to send to now, the whole job waits (no attempt spent); otherwise the
   * waiting members become a new part of the same message and this job keeps the rest.
   */
  async function applyBudget(
    app: WecomApp,
    job: Job<SendJobData & MemberSend>,
    token: string | undefined,
    target: MemberTarget,
    carrier?: Carrier,
  ): Promise<SendRecipients> {
    const { messageId } = job.data;
    const to = target.to;
    const users = namedUsers(to);
    if (!deps.budget || users.length === 0) return to;
    const split = await deps.budget.split(app, users, carrier?.unitId ?? sendIdOf(job.data));
    if (!split.deferred) return to;
    const reason = `${split.deferred.users.length} member(s) over WeCom's per-member quota`;
    metrics.sendDeferred.inc();
    if (split.allowed.length === 0 && !namesGroups(to)) {
      await carrier?.wait();
      return waitUntil(store, job, token, split.deferred.until, reason, deps.clock);
    }
    const { keep, defer } = divideByBudget(job.data, target, split.allowed, split.deferred.users);
    const newPart = await store.addPart(messageId, { status: 'deferred', attempts: 0, until: split.deferred.until, reason });
    await deps.deferPart({ ...job.data, part: newPart, ...defer }, split.deferred.until);
    await job.updateData({ ...job.data, ...keep });
    return withUsers(to, split.allowed);
  }

  /** `seen.to`: whom a part with on-call schedules went to, for its timeline. */
  async function send(
    app: WecomApp,
    job: Job<SendJobData>,
    token: string | undefined,
    seen: { to?: string },
  ): Promise<Outcome<SendResult>> {
    const data = job.data;
    if ('group' in data) return deliverToGroup(deps.groups, app, job as Job<typeof data>, token);
    const resolved = await resolvePart(deps.oncall, data, deps.clock());
    if (resolved.kind === 'nobody') {
      deps.logger.error({ messageId: data.messageId, part: data.part, oncall: data.oncall }, resolved.error.errmsg);
      return { kind: 'permanent', error: resolved.error };
    }
    seen.to = resolved.target.summary;
    const carrier = deps.budget ? deps.coalesce?.member(app, data, resolved.target.to) : undefined;
    const carried = await carrier?.claimWaiting();
    if (carried) return waitUntil(store, job, token, carried.until, 'carried by a message to the same member', deps.clock);
    const to = await applyBudget(app, job as Job<typeof data>, token, resolved.target, carrier);
    const outcome = await deliver(app, job as Job<typeof data>, token, to, carrier?.body(data.body));
    if (!carrier || (await carrier.after(outcome, seen.to ?? 'members')).selfSent) return outcome;
    // Older waiting parts filled the message this budget unit sent: this one waits for the next.
    return waitUntil(store, job, token, deps.clock(), 'older messages to the same member went first', deps.clock);
  }

  return async function processSendJob(job: Job<SendJobData>, token?: string): Promise<Attempted | void> {
    const { messageId, part, event, msgtype } = job.data;
    // The fields every line of this job carries (a pino child per job would cost more than the lines).
    const about = { requestId: job.data.requestId, messageId, part, jobId: job.id };
    const log = {
      info: (fields: object, msg: string) => deps.logger.info({ ...about, ...fields }, msg),
      warn: (fields: object, msg: string) => deps.logger.warn({ ...about, ...fields }, msg),
    };
    const attempt = job.attemptsMade + 1;
    // A re-run after a crash between WeCom's answer and the job's completion: already done.
    // A part recalled while it waited (a deferred part queued after the recall) is not sent.
    const before = (await store.startPart(messageId, part, attempt))?.status;
    if (before === 'sent' || before === 'recalled') return;
    // No record: accepting failed after the job was added (the caller got a 503 and will retry).
    if (before === undefined) return void log.warn({}, 'message withdrawn before it was accepted: not sent');
    // Noted once: a part that waited (deferred) runs again with the same attempt.
    if (part === 0 && attempt === 1 && before === 'queued') await store.noteRecent(messageId);

    const app = deps.findApp(job.data.app);
    // The attempt's duration (the timeline's ms) is measured on the wall clock; when it ended (at) is the flow's time.
    const started = Date.now();
    const seen: { to?: string } = {};
    const outcome = app
      ? await send(app, job, token, seen)
      : { kind: 'permanent' as const, error: { errcode: GatewayErrcode.appGone, errmsg: `app ${job.data.app} is no longer configured` } };

    return { result: wecomResult(outcome), onVerdict: (verdict) => record(verdict) };

    async function record(verdict: Verdict): Promise<void> {
      const to = seen.to ?? destinationOf(job.data);
      const timeline = { part, attempt, at: deps.clock(), ms: Date.now() - started, outcome: TIMELINE_OUTCOME[verdict.kind], to };
      if (outcome.kind === 'ok') {
        const { msgid, invalid, responseCode } = outcome.value;
        const state = { status: partStatusAfter(verdict), attempts: attempt, msgid, invalid, ...(responseCode ? { responseCode } : {}) };
        await store.updatePart(messageId, part, state, timeline);
        sent({ event, msgtype }).inc();
        latency({ msgtype }).observe((deps.clock() - job.data.acceptedAt) / 1000);
        log.info({ msgid, attempt, invalid, to }, 'message sent');
        await leaveRobotLine(deps.groups, job.data);
        await reportPartDone(deps, job.data);
        return;
      }
      const error = withHint(outcome.error, job.data);
      await store.updatePart(messageId, part, { status: partStatusAfter(verdict), attempts: attempt, error }, { ...timeline, error });
      if (verdict.kind === 'pause') {
        metrics.sendThrottled.inc();
        log.warn({ pauseMs: verdict.ms, error }, 'WeCom frequency limit: send queue paused');
      } else if (verdict.kind === 'fail') {
        metrics.messagesFailed.inc({ event, msgtype, errcode: String(error.errcode) });
        log.warn({ attempt, error, to }, 'message failed');
        await leaveRobotLine(deps.groups, job.data);
        await reportPartDone(deps, job.data);
      } else {
        metrics.sendRetries.inc({ errcode: String(error.errcode) });
        log.info({ attempt, error }, 'send will be retried');
      }
    }
  };
}

/** Failures that happen outside the processor (a job stalled too often) must still end as `failed`. */
export function sendJobFailed(deps: SendWorkerDeps) {
  return (job: Job<SendJobData> | undefined, err: Error): void => {
    if (!failedForGood(job, err)) return;
    void deps.store
      .getPart(job.data.messageId, job.data.part)
      .then(async (state) => {
        if (state && state.status !== 'sent' && state.status !== 'failed' && state.status !== 'recalled') {
          const error = { errcode: GatewayErrcode.interrupted, errmsg: err.message };
          const to = destinationOf(job.data);
          const timeline = {
            part: job.data.part,
            attempt: job.attemptsMade,
            at: deps.clock(),
            ms: 0,
            outcome: 'failed' as const,
            to,
            error,
          };
          await deps.store.updatePart(job.data.messageId, job.data.part, { ...state, status: 'failed', error }, timeline);
          await leaveRobotLine(deps.groups, job.data);
          await reportPartDone(deps, job.data);
        }
      })
      .catch((e) => deps.logger.error({ err: e }, 'could not record a failed job'));
  };
}
