import type { WecomApp } from '../wecom/app';
import { wecomResult, type Attempted } from '../queues/settle';
import { addExternalContact, type AddExternalContact, type CallbackEvent } from '../wecom/callback/event';
import { sendWelcome, type WelcomeMessage } from '../wecom/endpoints/externalcontact';
import { WELCOME_CODE_WINDOW_MS } from '../wecom/limits';
import type { WecomApi } from '../wecom/wecom-api';
import type { Activities, Activity, Employee } from './activities';
import type { ContactWays } from './contact-ways';
import type { EmployeePool } from './employee-pool';
import { recordOutcome, type OutcomeDeps, type WelcomeOutcome } from './welcome-outcomes';

/** Stop trying a little before WeCom's welcome code expires. */
const WELCOME_WINDOW_MS = WELCOME_CODE_WINDOW_MS - 2_000;

export interface TagJob {
  userId: string;
  externalUserId: string;
  tags: string[];
}

export interface WelcomeDeps extends OutcomeDeps {
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
  /** The gateway's clock (core.clock): the outcome's time and the welcome window are read from it. */
  clock: () => number;
}

/**
 * A customer added an employee: welcome them inside WeCom's 20-second window,
 * then count the add, tag the customer (in the background) and take the employee
 * out of the pool when they reach a limit. Every step is safe to repeat. The
 * welcome's attempt is settled by the queue (its window the attempt's deadline);
 * the rest runs once settle has decided it is sent or given up.
 */
export async function handleNewCustomer(event: CallbackEvent, deps: WelcomeDeps): Promise<Attempted> {
  const added = newCustomer(event, deps);
  if ('skipped' in added) return recorded(deps, added.skipped);
  const welcome = await welcomeOnce(added, deps);
  return afterDecided(welcome, async () => {
    await deps.pool.countAdd(added.employee, added.customer, event.receivedAt);
    await tagLater(added, deps);
    await retireWhenFull(added, deps);
  });
}

/** One add as the story reads it: who added whom, by which activity, and what its outcome starts with. */
interface NewCustomer {
  event: CallbackEvent;
  push: AddExternalContact;
  employee: string;
  customer: string;
  /** The activity whose State the customer scanned: its tags are marked. */
  matched?: Activity;
  /** The activity whose welcome is sent: the matched one, else the fallback. */
  activity?: Activity;
  /** The employee among the activity's own (undefined: counted, outside its pool). */
  standing?: Employee;
  /** What every outcome of this add starts with (when, who, which activity, notes). */
  base: Omit<WelcomeOutcome, 'outcome'>;
}

/** What an outcome adds to the add's own fields. */
type OutcomeFields = Omit<WelcomeOutcome, 'at'>;

/** Who added whom and by which activity; or why the push is none of this flow's (a skipped outcome). */
function newCustomer(event: CallbackEvent, deps: WelcomeDeps): NewCustomer | { skipped: WelcomeOutcome } {
  const push = addExternalContact(event);
  const { changeType, employee, customer, state } = push;
  const base = { at: new Date(deps.clock()).toISOString(), changeType, employee, customer, state };
  if (!employee || !customer) return { skipped: { ...base, outcome: 'skipped', reason: 'event without UserID or ExternalUserID' } };
  const corp = deps.corpOf(event.app);
  if (corp !== undefined && corp !== deps.app.corpId) {
    const reason = `pushed for app ${event.app} of corp ${corp}; welcomes are configured for corp ${deps.app.corpId} only`;
    return { skipped: { ...base, outcome: 'skipped', reason } };
  }
  const matched = deps.activities.byState(state);
  // A State that is none of ours gets the fallback's welcome, but not its campaign's tags.
  const activity = matched ?? deps.activities.fallback;
  const standing = activity?.employees.find((e) => e.userId === employee);
  const notes = [
    ...(activity && !matched ? [`state ${state ?? '(none)'} matches no activity: the fallback's welcome, no tags`] : []),
    ...(activity && !standing ? [`employee ${employee} is not among ${activity.name}'s employees (counted, outside its pool)`] : []),
  ];
  const withActivity = { ...base, activity: activity?.name, ...(notes.length > 0 ? { reason: notes.join('; ') } : {}) };
  return { event, push, employee, customer, matched, activity, standing, base: withActivity };
}

/** The welcome, once per push: nothing to send (a half add, no code, no activity, no rendering), or sent within the window. */
async function welcomeOnce(added: NewCustomer, deps: WelcomeDeps): Promise<Attempted> {
  const sentKey = deps.keys.welcome.done(added.event.dedupeKey);
  if (await deps.redis.exists(sentKey)) return { result: { kind: 'ok' } }; // a re-run after the welcome was handled
  const done = (fields: OutcomeFields): Attempted => ({
    result: { kind: 'ok' },
    onVerdict: async () => {
      await deps.redis.set(sentKey, '1', 'EX', 86_400);
      await recordOutcome(deps, { ...added.base, ...fields });
    },
  });
  const welcome = welcomeFor(added);
  if ('outcome' in welcome) return done(welcome);
  return sendWithin(added, welcome, deps, done);
}

/** The code and the rendered welcome; or why none is sent. */
function welcomeFor({ push, activity, customer, employee }: NewCustomer): { code: string; message: WelcomeMessage } | OutcomeFields {
  // A one-way (half) add carries no usable code (reference §7.4): count and tag, send nothing.
  if (push.half) return { outcome: 'skipped', reason: 'half contact (one-way): no welcome is sent' };
  if (!push.welcomeCode)
    return {
      outcome: 'skipped',
      reason: 'no WelcomeCode: the employee has their own welcome message, or the customer is already chatting',
    };
  if (!activity) return { outcome: 'skipped', reason: `state ${push.state ?? '(none)'} matches no activity and there is no fallback` };
  try {
    const context = {
      customer: { externalUserId: customer },
      employee: { userId: employee },
      activity: { name: activity.name, state: activity.state },
    };
    return { code: push.welcomeCode, message: activity.render(context) };
  } catch (error) {
    return { outcome: 'failed', reason: `welcome cannot render: ${(error as Error).message.split('\n')[0]}` };
  }
}

/**
 * Sends the welcome while its code is valid. The 20 s window is the attempt's deadline:
 * another try only while a second of it is left. Expired or used codes (41050/41049)
 * are final: retrying past the window cannot help.
 */
async function sendWithin(
  added: NewCustomer,
  welcome: { code: string; message: WelcomeMessage },
  deps: WelcomeDeps,
  done: (fields: OutcomeFields) => Attempted,
): Promise<Attempted> {
  const elapsed = () => deps.clock() - added.event.receivedAt;
  if (elapsed() > WELCOME_WINDOW_MS)
    return done({ outcome: 'expired', reason: 'the 20-second window passed before the welcome could be sent' });
  const outcome = await deps.api.call(deps.app, sendWelcome(welcome.code, welcome.message));
  if (outcome.kind === 'ok') return done({ outcome: outcome.value === 'sent' ? 'sent' : 'already-delivered', latencyMs: elapsed() });
  const given = done({
    outcome: outcome.kind === 'permanent' ? 'failed' : 'expired',
    errcode: outcome.error.errcode,
    reason: outcome.error.errmsg,
  });
  return { result: wecomResult(outcome), policy: { deadlineIn: WELCOME_WINDOW_MS - 1_000 - elapsed() }, onVerdict: given.onVerdict };
}

/**
 * The welcome's attempt, with the rest of the add run once settle has decided it:
 * a retry waits (tried again shortly, while the code is valid); sent or given up,
 * its outcome is recorded, then `rest` runs. A welcome given up is recorded
 * (expired, failed): the job itself is done.
 */
function afterDecided(welcome: Attempted, rest: () => Promise<void>): Attempted {
  return {
    ...welcome,
    onVerdict: async (verdict) => {
      if (verdict.kind === 'retry' || verdict.kind === 'pause') return;
      await welcome.onVerdict?.(verdict);
      await rest();
      return 'handled';
    },
  };
}

/** The matched activity's tags, queued (the fallback's welcome marks none). */
async function tagLater(added: NewCustomer, deps: WelcomeDeps): Promise<void> {
  const tags = added.matched?.tags ?? [];
  if (tags.length > 0)
    await deps.markLater({ userId: added.employee, externalUserId: added.customer, tags }, `tag_${added.event.dedupeKey}`);
}

/** An employee at a limit leaves the pool: their contact-me codes are deleted, so new customers go to others. */
async function retireWhenFull(added: NewCustomer, deps: WelcomeDeps): Promise<void> {
  if (added.standing && !(await deps.pool.entry(added.standing)).inPool) await deps.contactWays.retire(added.employee);
}

/** An outcome recorded at once: nothing to send, count or tag. */
function recorded(deps: WelcomeDeps, outcome: WelcomeOutcome): Attempted {
  return { result: { kind: 'ok' }, onVerdict: () => recordOutcome(deps, outcome) };
}
