import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { WecomApp } from '../wecom/app';
import type { Metrics } from '../ops/metrics';
import { QUEUES } from '../queues/catalog';
import { defineQueue, type DefinedQueue, type QueueCore } from '../queues/define-queue';
import { wecomResult, type Attempted } from '../queues/settle';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { addExternalContact, eventHeader, type CallbackEvent } from '../wecom/callback/event';
import { markTags, sendWelcome as sendWelcomeMsg, type WelcomeMessage } from '../wecom/endpoints/externalcontact';
import type { WecomApi } from '../wecom/wecom-api';
import type { Activities } from './activities';
import type { ContactWays } from './contact-ways';
import type { EmployeePool } from './employee-pool';
import { WELCOME_CODE_WINDOW_MS } from '../wecom/limits';

export const WELCOME_QUEUE = QUEUES.welcome.name;
export const TAG_QUEUE = QUEUES.welcomeTags.name;
/** Stop trying a little before WeCom's welcome code expires. */
const WELCOME_WINDOW_MS = WELCOME_CODE_WINDOW_MS - 2_000;
const OUTCOMES_KEPT = 1_000;

export interface WelcomeOutcome {
  at: string;
  changeType?: string;
  employee?: string;
  customer?: string;
  state?: string;
  activity?: string;
  outcome: 'sent' | 'already-delivered' | 'expired' | 'failed' | 'skipped';
  reason?: string;
  errcode?: number;
  latencyMs?: number;
}

export interface TagJob {
  userId: string;
  externalUserId: string;
  tags: string[];
}

export interface WelcomeDeps {
  /** The customer-contact app: one corp's welcomes, tags and contact-me codes. */
  app: WecomApp;
  /** The corp of the configured app a push arrived for (welcomes are the customer-contact app's corp only). */
  corpOf: (appName: string) => string | undefined;
  api: WecomApi;
  activities: Activities;
  pool: EmployeePool;
  contactWays: ContactWays;
  /** Where a new customer's tags are queued. */
  markLater: (job: TagJob, jobId: string) => Promise<void>;
  redis: RedisClient;
  keys: RedisKeys;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

async function record(deps: WelcomeDeps, outcome: WelcomeOutcome): Promise<void> {
  deps.metrics.welcomeOutcomes.inc({ outcome: outcome.outcome });
  if (outcome.latencyMs !== undefined) deps.metrics.welcomeLatency.observe(outcome.latencyMs / 1000);
  // Ids and outcome only: the welcome text is not logged.
  deps.logger.info(outcome, 'new customer handled');
  const key = deps.keys.welcome.outcomes;
  await deps.redis
    .multi()
    .lpush(key, JSON.stringify(outcome))
    .ltrim(key, 0, OUTCOMES_KEPT - 1)
    .exec();
}

const OK: Attempted = { result: { kind: 'ok' } };

/**
 * A customer added an employee: welcome them inside WeCom's 20-second window,
 * then count the add, tag the customer (in the background) and take the employee
 * out of the pool when they reach a limit. Every step is safe to repeat. The
 * welcome's attempt is settled by the queue (its window the attempt's deadline);
 * the rest runs once settle has decided it is sent or given up.
 */
export async function handleNewCustomer(event: CallbackEvent, deps: WelcomeDeps): Promise<Attempted> {
  const now = deps.now ?? Date.now;
  const added = addExternalContact(event);
  const { changeType, employee, customer, state, welcomeCode } = added;
  const base = { at: new Date(now()).toISOString(), changeType, employee, customer, state };
  if (!employee || !customer) return recorded(deps, { ...base, outcome: 'skipped', reason: 'event without UserID or ExternalUserID' });
  const corp = deps.corpOf(event.app);
  if (corp !== undefined && corp !== deps.app.corpId)
    return recorded(deps, {
      ...base,
      outcome: 'skipped',
      reason: `pushed for app ${event.app} of corp ${corp}; welcomes are configured for corp ${deps.app.corpId} only`,
    });
  const matched = deps.activities.byState(state);
  // A State that is none of ours gets the fallback's welcome, but not its campaign's tags.
  const activity = matched ?? deps.activities.fallback;
  const standing = activity?.employees.find((e) => e.userId === employee);

  const welcome = await sendWelcome();
  return {
    ...welcome,
    onVerdict: async (verdict) => {
      // Tried again shortly, while the welcome code is still valid.
      if (verdict.kind === 'retry' || verdict.kind === 'pause') return;
      await welcome.onVerdict?.(verdict);
      await deps.pool.countAdd(employee, customer, event.receivedAt);
      if (matched && matched.tags.length > 0)
        await deps.markLater({ userId: employee, externalUserId: customer, tags: matched.tags }, `tag_${event.dedupeKey}`);
      if (standing && !(await deps.pool.entry(standing)).inPool) await deps.contactWays.retire(employee);
      // A welcome given up is recorded (expired, failed): the job itself is done.
      return 'handled';
    },
  };

  async function sendWelcome(): Promise<Attempted> {
    const sentKey = deps.keys.welcome.done(event.dedupeKey);
    if (await deps.redis.exists(sentKey)) return OK; // a re-run after the welcome was handled
    const done = (outcome: WelcomeOutcome): Attempted => ({
      result: { kind: 'ok' },
      onVerdict: async () => {
        await deps.redis.set(sentKey, '1', 'EX', 86_400);
        await record(deps, outcome);
      },
    });
    const notes = [
      ...(activity && !matched ? [`state ${state ?? '(none)'} matches no activity: the fallback's welcome, no tags`] : []),
      ...(activity && !standing ? [`employee ${employee} is not among ${activity.name}'s employees (counted, outside its pool)`] : []),
    ];
    const withActivity = { ...base, activity: activity?.name, ...(notes.length > 0 ? { reason: notes.join('; ') } : {}) };
    // A one-way (half) add carries no usable code (reference §7.4): count and tag, send nothing.
    if (added.half) return done({ ...withActivity, outcome: 'skipped', reason: 'half contact (one-way): no welcome is sent' });
    if (!welcomeCode)
      return done({
        ...withActivity,
        outcome: 'skipped',
        reason: 'no WelcomeCode: the employee has their own welcome message, or the customer is already chatting',
      });
    if (!activity)
      return done({
        ...withActivity,
        outcome: 'skipped',
        reason: `state ${state ?? '(none)'} matches no activity and there is no fallback`,
      });
    let message: WelcomeMessage;
    try {
      message = activity.render({
        customer: { externalUserId: customer! },
        employee: { userId: employee! },
        activity: { name: activity.name, state: activity.state },
      });
    } catch (error) {
      return done({ ...withActivity, outcome: 'failed', reason: `welcome cannot render: ${(error as Error).message.split('\n')[0]}` });
    }
    const elapsed = () => now() - event.receivedAt;
    if (elapsed() > WELCOME_WINDOW_MS)
      return done({ ...withActivity, outcome: 'expired', reason: 'the 20-second window passed before the welcome could be sent' });
    const outcome = await deps.api.call(deps.app, sendWelcomeMsg(welcomeCode, message));
    if (outcome.kind === 'ok')
      return done({ ...withActivity, outcome: outcome.value === 'sent' ? 'sent' : 'already-delivered', latencyMs: elapsed() });
    // The 20 s window is the attempt's deadline: another try only while a second of it is left.
    // Expired or used codes (41050/41049) are final: retrying past the window cannot help.
    const given = done({
      ...withActivity,
      outcome: outcome.kind === 'permanent' ? 'failed' : 'expired',
      errcode: outcome.error.errcode,
      reason: outcome.error.errmsg,
    });
    return { result: wecomResult(outcome), policy: { deadlineIn: WELCOME_WINDOW_MS - 1_000 - elapsed() }, onVerdict: given.onVerdict };
  }
}

/** An outcome recorded at once: nothing to send, count or tag. */
function recorded(deps: WelcomeDeps, outcome: WelcomeOutcome): Attempted {
  return { result: { kind: 'ok' }, onVerdict: () => record(deps, outcome) };
}

/**
 * The welcome queue has its own workers, so a backlog of alerts never delays a welcome;
 * the tags follow on a queue of their own. Without `deps` (no customer-contact app)
 * adds are still queued, and no worker runs.
 */
export function defineWelcomeQueues(core: QueueCore, roles: ReadonlySet<string>, deps: Omit<WelcomeDeps, 'markLater'> | undefined) {
  const tags = defineQueue<TagJob>(core, QUEUES.welcomeTags, deps && tagCustomer(deps), {
    roles,
    onFailed: (job, err) =>
      core.logger.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'tagging a new customer failed'),
  });
  const markLater = async (job: TagJob, jobId: string) => void (await tags.queue.add('mark', job, { jobId, ...tags.jobOptions() }));
  const welcome = defineQueue<CallbackEvent>(core, QUEUES.welcome, deps && ((job) => handleNewCustomer(job.data, { ...deps, markLater })), {
    roles,
  });
  return { welcome, tags };
}

/** A refusal (an unknown tag, a customer no longer the employee's) fails at once; WeCom being busy is retried. */
function tagCustomer(deps: Omit<WelcomeDeps, 'markLater'>) {
  return async (job: Job<TagJob>): Promise<Attempted> => {
    const marks = { employee: job.data.userId, customer: job.data.externalUserId, add: job.data.tags };
    const outcome = await deps.api.call(deps.app, markTags(marks));
    return {
      result: wecomResult(outcome),
      onVerdict: async (verdict) => void (verdict.kind === 'done' && deps.metrics.welcomeTagged.inc()),
    };
  };
}

/** Queues a new customer's welcome; the job id is the push's dedupe key. */
export async function enqueueWelcome(welcome: DefinedQueue<CallbackEvent>, event: CallbackEvent): Promise<void> {
  await welcome.queue.add(eventHeader(event).changeType ?? 'add', event, { jobId: event.dedupeKey, ...welcome.jobOptions() });
}
