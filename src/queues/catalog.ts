import { capped, exponential, fixed, type Backoff } from './backoffs';
import { DEAD_LETTERS_KEPT, JOB_RETENTION } from './retention';

/**
 * Every queue of the gateway in one table (as Alertmanager builds every receiver's
 * retry stage in one place): its name (a Redis key under `{<prefix>}`: never rename
 * one), how soon its jobs matter, its attempts and backoff, its concurrency, the
 * WORKERS role whose instances run its worker, and what it keeps of finished jobs.
 * A value an operator sets is named by its environment variable (`Setting`) and
 * read when the queue is defined. Every queue is built from its row by defineQueue,
 * and every attempt is decided by settle.
 */

/** The settings some rows are derived from, by their environment variable. */
export type Setting = 'SEND_ATTEMPTS' | 'RETRY_BASE_DELAY_MS' | 'SEND_CONCURRENCY' | 'MEDIA_CONCURRENCY' | 'JOB_LOCK_MS';
export type QueueSettings = Partial<Record<Setting, number>>;
/** A number, or the setting it comes from. */
export type Knob = number | Setting;

/** The WORKERS value whose instances run a queue's worker. */
export type WorkerRole = 'send' | 'inbound' | 'sync' | 'welcome' | 'digest' | 'alerts';

/**
 * How soon a job matters. `window`: a deadline WeCom sets (a welcome code's 20 s);
 * `interactive`: someone waits on a screen (a clicked card); `prompt`: seconds
 * (messages, callbacks); `background`: minutes are fine (tags, digests, webhooks).
 */
export type Urgency = 'window' | 'interactive' | 'prompt' | 'background';

export interface QueueSpec {
  name: string;
  urgency: Urgency;
  role: WorkerRole;
  /** Attempts of a job in all, the first included. */
  attempts: Knob;
  /** Attempts by job name, where a kind of job has its own (a silence). */
  attemptsByJob?: Record<string, number>;
  backoff: Backoff<Knob>;
  /** Jobs one instance runs at once (BullMQ's default: 1). */
  concurrency?: Knob;
  /** A job whose worker died is taken up again once its lock (this long) lapses; after 3 stalls it fails. */
  lockMs?: Knob;
  /** WeCom blocking the app (45009) pauses the whole queue (the worker's rate limit, shared by every instance). */
  pauses?: boolean;
  /** What BullMQ keeps of finished jobs (the failed ones are the dead letters). */
  retention: typeof JOB_RETENTION;
  /** Its worker's log lines say `<logName> worker error`. */
  logName: string;
}

/**
 * A line that is no BullMQ queue (contact sync: BullMQ's retries cannot keep a
 * sink's order), decided by the same settle: its attempts are Infinity, and only a
 * refusal runs out (`refusalAttempts`).
 */
export interface LineSpec extends Omit<QueueSpec, 'retention' | 'attemptsByJob' | 'lockMs' | 'pauses' | 'logName'> {
  refusalAttempts: number;
  /** Dead letters kept per line. */
  retention: { deadLetters: number };
}

const WEBHOOK = {
  urgency: 'background',
  attempts: 8,
  backoff: exponential<Knob>('RETRY_BASE_DELAY_MS', 0.5),
  concurrency: 10,
  retention: JOB_RETENTION,
  logName: 'webhook',
} as const;

export const QUEUES = {
  /** Messages, each part a job, by priority band (send-queue.ts). */
  send: {
    name: 'send',
    urgency: 'prompt',
    role: 'send',
    attempts: 'SEND_ATTEMPTS',
    backoff: exponential<Knob>('RETRY_BASE_DELAY_MS', 0.5),
    concurrency: 'SEND_CONCURRENCY',
    lockMs: 'JOB_LOCK_MS',
    pauses: true,
    retention: JOB_RETENTION,
    logName: 'send',
  },
  /** Files by URL, downloaded and uploaded for a waiting send part (media-queue.ts). */
  media: {
    name: 'media',
    urgency: 'prompt',
    role: 'send',
    attempts: 'SEND_ATTEMPTS',
    backoff: exponential<Knob>('RETRY_BASE_DELAY_MS', 0.5),
    concurrency: 'MEDIA_CONCURRENCY',
    lockMs: 'JOB_LOCK_MS',
    pauses: true,
    retention: JOB_RETENTION,
    logName: 'media',
  },
  /** Callback events with queued handlers (inbound-queue.ts). */
  inbound: {
    name: 'inbound',
    urgency: 'prompt',
    role: 'inbound',
    attempts: 5,
    backoff: exponential(1_000, 0.5),
    concurrency: 20,
    retention: JOB_RETENTION,
    logName: 'inbound',
  },
  /** New customers, welcomed within WeCom's 20 s: more attempts than the window holds (40 x 0.5 s > 18 s), the window ends them. */
  welcome: {
    name: 'welcome',
    urgency: 'window',
    role: 'welcome',
    attempts: 40,
    backoff: fixed(500),
    concurrency: 50,
    retention: JOB_RETENTION,
    logName: 'welcome',
  },
  /** A new customer's tags, after the welcome. */
  welcomeTags: {
    name: 'welcome-tags',
    urgency: 'background',
    role: 'welcome',
    attempts: 6,
    backoff: exponential(1_000, 0.5),
    concurrency: 10,
    retention: JOB_RETENTION,
    logName: 'welcome',
  },
  /** Storm digests, each due when its minute ends (alerts/storm.ts). */
  digest: {
    name: 'alert-digest',
    urgency: 'background',
    role: 'digest',
    attempts: 5,
    backoff: exponential(1_000),
    retention: JOB_RETENTION,
    logName: 'digest',
  },
  /**
   * Silences, card updates and escalation levels of alert cards (alerts/alert-jobs.ts).
   * A silence gets 6 tries (over about 30 s with RETRY_BASE_DELAY_MS' default) before its card says it failed.
   */
  alertActions: {
    name: 'alert-actions',
    urgency: 'interactive',
    role: 'alerts',
    attempts: 5,
    attemptsByJob: { silence: 6 },
    backoff: exponential<Knob>('RETRY_BASE_DELAY_MS'),
    concurrency: 10,
    retention: JOB_RETENTION,
    logName: 'alert',
  },
  /** On-call handoffs: each schedule's next shift change, a delayed job (oncall/handoffs.ts). */
  handoff: {
    name: 'oncall-handoff',
    urgency: 'background',
    role: 'alerts',
    attempts: 5,
    backoff: exponential(1_000),
    retention: JOB_RETENTION,
    logName: 'handoff',
  },
  /**
   * Escalation levels' phone calls and the looks at how they went (alerts/phone/): a
   * call is placed once, so only a refusal that may pass is retried, briefly.
   */
  alertCalls: {
    name: 'alert-calls',
    urgency: 'interactive',
    role: 'alerts',
    attempts: 5,
    backoff: exponential<Knob>('RETRY_BASE_DELAY_MS'),
    concurrency: 10,
    retention: JOB_RETENTION,
    logName: 'alert-calls',
  },
  /** Final statuses to a request's callbackUrl, delivered where messages are sent. */
  statusCallbacks: { ...WEBHOOK, name: 'status-callbacks', role: 'send' },
  /** User messages to INBOUND_WEBHOOK_URL, delivered where callbacks are handled. */
  forwardInbound: { ...WEBHOOK, name: 'forward-inbound', role: 'inbound' },
} as const satisfies Record<string, QueueSpec>;

/** Contact changes to each sink (`sync:<sink>`), in feed order, for as long as a sink is down (contacts/sync-dispatcher.ts). */
export const SYNC_LINE = {
  name: 'sync:<sink>',
  urgency: 'background',
  role: 'sync',
  attempts: Infinity,
  refusalAttempts: 3,
  backoff: capped<Knob>('RETRY_BASE_DELAY_MS', 60_000),
  retention: { deadLetters: DEAD_LETTERS_KEPT },
} as const satisfies LineSpec;

/** A knob's value: the number, or the setting it names (which the caller must give). */
export function knob(value: Knob, settings: QueueSettings): number {
  if (typeof value === 'number') return value;
  const set = settings[value];
  if (set === undefined) throw new Error(`${value} is needed to define this queue`);
  return set;
}

/** A row's backoff with its settings read. */
export function backoffOf(spec: Pick<QueueSpec, 'backoff'>, settings: QueueSettings): Backoff {
  const b = spec.backoff;
  if (b.strategy === 'cappedExponential') return { ...b, base: knob(b.base, settings), max: knob(b.max, settings) };
  return { ...b, delay: knob(b.delay, settings) };
}
