import { createHash } from 'node:crypto';
import type { MessageService } from '../messages/message-service';
import type { SendRequest } from '../messages/send-request';
import type { Recipients } from '../messages/recipients';
import { QUEUES } from '../queues/catalog';
import { defineQueue, type DefinedQueue, type QueueCore } from '../queues/define-queue';
import type { RedisKeys } from '../redis/keys';
import { compareAndDelete } from '../redis/atomic';
import type { RedisClient } from '../redis/connection';
import { luaScript } from '../redis/lua';
import type { MessageMentions as Mentions } from '../messages/mentions';
import type { FoldItem } from './alert-data';
import { digestOf } from './digest-lines';

/** What one window keeps of a storm: key label values and alertnames beyond these are counted, not listed. */
const MAX_VALUES = 5_000;
const MAX_NAMES = 100;
const FOLD_INTO_DIGEST = luaScript('foldIntoDigest');

/** One notification folded into its window's digest, within the caps (redis/lua/foldIntoDigest-3.lua). */
async function foldIntoDigest(
  redis: RedisClient,
  keys: { counts: string; values: string; since: string },
  args: { ttlSeconds: number; maxValues: number; maxNames: number; status: string; alerts: FoldItem['alerts'] },
): Promise<void> {
  const alerts = args.alerts.flatMap((a) => [a.name, a.value, a.startsAt ?? 0]);
  const caps = [args.ttlSeconds, args.maxValues, args.maxNames];
  await FOLD_INTO_DIGEST(redis, [keys.counts, keys.values, keys.since], [...caps, args.status, ...alerts]);
}

export interface StormSettings {
  keys: RedisKeys;
  dedupeSeconds: number;
  perRecipientPerMinute: number;
  /** A robot's messages a minute (ROBOT_QUOTA): a set with a robot folds beyond it. */
  robotPerMinute: number;
  /** The digest's event (alert.digest, or alert.digest.en). */
  digestEvent: string;
  timeZone: string;
}

export interface DigestJob {
  recipientsKey: string;
  window: number;
  to: Recipients;
  app?: string;
  /** Whom the digest @-mentions in robots and chats (the route's mentions, once; on-call: whoever is on call when it is sent). */
  mentions?: Mentions;
}

export type Admission = { decision: 'send' } | { decision: 'duplicate'; id?: string } | { decision: 'folded' };

/** Recipients in a canonical form, so `{users:[b,a]}` and `{users:[a,b]}` share a budget. */
export function recipientsKey(to: Recipients): string {
  const sorted = (list?: string[]) => list?.slice().sort();
  const groups = to !== '@all' && (to.robots?.length || to.chats?.length) ? [sorted(to.robots), sorted(to.chats)] : [];
  const oncall = to !== '@all' && to.oncall?.length ? [{ oncall: sorted(to.oncall) }] : [];
  // Member-only sets keep the key they had before robots, chats and on-call existed (their windows carry over an upgrade).
  const canonical = to === '@all' ? '@all' : JSON.stringify([sorted(to.users), sorted(to.parties), sorted(to.tags), ...groups, ...oncall]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 20);
}

/**
 * Protects people (and the app's WeCom quota) from alert storms, in Redis so
 * every instance shares the view:
 * - an identical notification to the same recipients within `dedupeSeconds` is
 *   sent once (this also absorbs Alertmanager's retries and its HA replicas);
 * - beyond `perRecipientPerMinute` notifications in a minute, the rest are folded
 *   into one digest, sent by a delayed job when the minute ends: per alertname its
 *   count and where (the key label values), firing and resolved apart.
 */
export class StormControl {
  private readonly digests: DefinedQueue<DigestJob>;
  /** The other digests' jobs on this queue, by job name (quiet hours' releases: quiet-hours.ts). */
  private readonly others = new Map<string, (data: unknown, jobId: string) => Promise<void>>();

  /** `digests`: where the digest queue lives, and the message service its worker (where WORKERS has digest) sends through. */
  constructor(
    private readonly redis: RedisClient,
    digests: { core: QueueCore; roles: ReadonlySet<string>; messages: MessageService },
    private readonly settings: StormSettings,
    /** The gateway's clock (core.clock): storm control counts per minute of it. */
    private readonly now: () => number,
  ) {
    const sendDigest = async (job: { id?: string; name: string; data: DigestJob }) => {
      const other = this.others.get(job.name);
      if (other) return other(job.data, job.id ?? job.name);
      const id = await this.sendDigest(job.data, digests.messages);
      digests.core.logger.info({ window: job.data.window, messageId: id }, 'alert storm digest sent');
    };
    this.digests = defineQueue<DigestJob>(digests.core, QUEUES.digest, sendDigest, { roles: digests.roles });
  }

  get digestQueue() {
    return this.digests.queue;
  }

  /**
   * Another digest's jobs share this queue (its role, retention and dashboard): `run` takes the jobs named `name`.
   * `schedule` adds one by its id once; when that job already ran (a late arrival, or it failed for good), another
   * is added to run now, so nothing scheduled is left waiting for a job that will not come.
   */
  handle<T extends object>(
    name: string,
    run: (data: T, jobId: string) => Promise<void>,
  ): { schedule(data: T, jobId: string, delay: number): Promise<void> } {
    this.others.set(name, run as (data: unknown, jobId: string) => Promise<void>);
    const add = (data: T, jobId: string, delay: number) =>
      this.digests.queue.add(name, data as unknown as DigestJob, { jobId, delay, ...this.digests.jobOptions() });
    return {
      schedule: async (data, jobId, delay) => {
        await add(data, jobId, delay);
        const state = await this.digests.queue.getJobState(jobId);
        if (state === 'completed' || state === 'failed') await add(data, `${jobId}-${this.now()}`, 0);
      },
    };
  }

  get worker() {
    return this.digests.worker;
  }

  private key(rk: string, what: string): string {
    return this.settings.keys.storm(rk, what);
  }

  /** `notificationKey` names the notification for its owner: the same one again (a retry, a replica) is a duplicate. */
  async admit(
    to: Recipients,
    notificationKey: string,
    item: FoldItem,
    options: { app?: string; mentions?: Mentions } = {},
  ): Promise<Admission> {
    const rk = recipientsKey(to);
    if (this.settings.dedupeSeconds > 0) {
      const seen = this.key(rk, `seen:${notificationKey}`);
      if (!(await this.redis.set(seen, 'pending', 'EX', this.settings.dedupeSeconds, 'NX'))) {
        const id = await this.redis.get(seen);
        return { decision: 'duplicate', id: id && id !== 'pending' ? id : undefined };
      }
    }
    const limit = this.perMinute(to);
    if (limit === 0) return { decision: 'send' };
    const window = Math.floor(this.now() / 60_000);
    const counter = this.key(rk, `count:${window}`);
    const [[, count]] = (await this.redis.multi().incr(counter).expire(counter, 180).exec()) as [[unknown, number]];
    if (count <= limit) return { decision: 'send' };
    await foldIntoDigest(this.redis, this.digestKeys(rk, window), {
      ttlSeconds: 3_600,
      maxValues: MAX_VALUES,
      maxNames: MAX_NAMES,
      status: item.status,
      alerts: item.alerts,
    });
    // The first fold of the window schedules its digest (the job id makes the others no-ops).
    const due = (window + 1) * 60_000 - this.now() + 1_000;
    const job: DigestJob = {
      recipientsKey: rk,
      window,
      to,
      ...(options.app ? { app: options.app } : {}),
      ...(options.mentions ? { mentions: options.mentions } : {}),
    };
    await this.digestQueue.add('digest', job, { jobId: `digest_${rk}_${window}`, delay: due, ...this.digests.jobOptions() });
    return { decision: 'folded' };
  }

  /**
   * A set with a robot gets at most the robot's budget in a minute, one of it kept
   * for the digest: a group sees at most 20 messages a minute, the last one saying
   * what was folded.
   */
  private perMinute(to: Recipients): number {
    const limit = this.settings.perRecipientPerMinute;
    if (to === '@all' || !to.robots?.length) return limit;
    const robot = Math.max(1, this.settings.robotPerMinute - 1);
    return limit === 0 ? robot : Math.min(limit, robot);
  }

  /**
   * Releases a notification that was admitted but could not be accepted (422, 503...),
   * so that Alertmanager's retry is tried again instead of answered as a duplicate.
   */
  async forget(to: Recipients, notificationKey: string): Promise<void> {
    if (this.settings.dedupeSeconds > 0)
      await compareAndDelete(this.redis, this.key(recipientsKey(to), `seen:${notificationKey}`), 'pending');
  }

  /** Remembers which message answered a notification, so its duplicates can name it. */
  async remember(to: Recipients, notificationKey: string, id: string): Promise<void> {
    if (this.settings.dedupeSeconds > 0) await this.redis.set(this.key(recipientsKey(to), `seen:${notificationKey}`), id, 'KEEPTTL', 'XX');
  }

  private digestKeys(rk: string, window: number) {
    return {
      counts: this.key(rk, `digest:${window}`),
      values: this.key(rk, `digest:${window}:values`),
      since: this.key(rk, `digest:${window}:since`),
    };
  }

  /** What one window folded, as the digest's template data (undefined: nothing was folded). */
  async digestData(job: Pick<DigestJob, 'recipientsKey' | 'window' | 'to'>) {
    const keys = this.digestKeys(job.recipientsKey, job.window);
    const [counts, members, since] = await Promise.all([
      this.redis.hgetall(keys.counts),
      this.redis.zrange(keys.values, 0, -1),
      this.redis.hgetall(keys.since),
    ]);
    const digest = digestOf({ counts, members, since }, job.to, this.settings.timeZone, this.now());
    return digest && { ...digest, windowSeconds: 60 };
  }

  /** The digest of one window: everything folded, as one message. */
  async sendDigest(job: DigestJob, messages: MessageService): Promise<string | undefined> {
    const data = await this.digestData(job);
    if (!data) return undefined;
    const request: SendRequest = {
      event: this.settings.digestEvent,
      to: job.to,
      ...(job.app ? { app: job.app } : {}),
      ...(job.mentions ? { mentions: job.mentions } : {}),
      // Accepted without a caller: the gateway's own idempotency namespace, which no caller's key reaches.
      idempotencyKey: `digest-${job.recipientsKey}-${job.window}`,
      data,
    };
    const { id } = await messages.accept(request);
    const keys = this.digestKeys(job.recipientsKey, job.window);
    await this.redis.del(keys.counts, keys.values, keys.since);
    return id;
  }

  close(): Promise<void> {
    return this.digests.close();
  }
}
