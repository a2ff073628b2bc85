import { createHash } from 'node:crypto';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { MessageService, SendRequest } from '../messages/message-service';
import type { Recipients } from '../messages/recipients';
import { JOB_RETENTION } from '../queues/retention';
import { settleThrown } from '../queues/settle';
import type { RedisKeys } from '../redis/keys';
import { compareAndDelete, type RedisClient } from '../redis/scripts';

export const DIGEST_QUEUE = 'alert-digest';
const DIGEST_ITEMS_LISTED = 20;

export interface StormSettings {
  keys: RedisKeys;
  dedupeSeconds: number;
  perRecipientPerMinute: number;
  /** A robot's messages a minute (ROBOT_QUOTA): a set with a robot folds beyond it. */
  robotPerMinute: number;
}

/** One folded notification, as the digest lists it. */
export interface FoldedItem {
  statusText: string;
  title: string;
  count: number;
}

export interface DigestJob {
  recipientsKey: string;
  window: number;
  to: Recipients;
  app?: string;
}

export type Admission = { decision: 'send' } | { decision: 'duplicate'; id?: string } | { decision: 'folded' };

/** Recipients in a canonical form, so `{users:[b,a]}` and `{users:[a,b]}` share a budget. */
export function recipientsKey(to: Recipients): string {
  const sorted = (list?: string[]) => list?.slice().sort();
  const groups = to !== '@all' && (to.robots?.length || to.chats?.length) ? [sorted(to.robots), sorted(to.chats)] : [];
  // Member-only sets keep the key they had before robots and chats existed (their windows carry over an upgrade).
  const canonical = to === '@all' ? '@all' : JSON.stringify([sorted(to.users), sorted(to.parties), sorted(to.tags), ...groups]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 20);
}

/**
 * Protects people (and the app's WeCom quota) from alert storms, in Redis so
 * every instance shares the view:
 * - an identical notification to the same recipients within `dedupeSeconds` is
 *   sent once (this also absorbs Alertmanager's retries);
 * - beyond `perRecipientPerMinute` notifications in a minute, the rest are folded
 *   into one digest, sent by a delayed job when the minute ends.
 */
export class StormControl {
  readonly digestQueue: Queue<DigestJob>;

  constructor(
    private readonly redis: RedisClient,
    queueConnection: ConnectionOptions,
    private readonly settings: StormSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.digestQueue = new Queue<DigestJob>(DIGEST_QUEUE, { connection: queueConnection, prefix: settings.keys.queuePrefix });
  }

  private key(rk: string, what: string): string {
    return this.settings.keys.storm(rk, what);
  }

  async admit(to: Recipients, notificationKey: string, item: FoldedItem, app?: string): Promise<Admission> {
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
    const folded = this.key(rk, `digest:${window}`);
    const foldedCount = this.key(rk, `digest:${window}:count`);
    // The digest lists the first few and counts the rest: a storm keeps no more than it shows.
    await this.redis.multi().rpush(folded, JSON.stringify(item)).ltrim(folded, 0, DIGEST_ITEMS_LISTED - 1).expire(folded, 3_600).incr(foldedCount).expire(foldedCount, 3_600).exec();
    // The first fold of the window schedules its digest (the job id makes the others no-ops).
    const due = (window + 1) * 60_000 - this.now() + 1_000;
    await this.digestQueue.add('digest', { recipientsKey: rk, window, to, app }, { jobId: `digest_${rk}_${window}`, delay: due, attempts: 5, backoff: { type: 'exponential', delay: 1_000 }, ...JOB_RETENTION });
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
    if (this.settings.dedupeSeconds > 0) await compareAndDelete(this.redis, this.key(recipientsKey(to), `seen:${notificationKey}`), 'pending');
  }

  /** Remembers which message answered a notification, so its duplicates can name it. */
  async remember(to: Recipients, notificationKey: string, id: string): Promise<void> {
    if (this.settings.dedupeSeconds > 0) await this.redis.set(this.key(recipientsKey(to), `seen:${notificationKey}`), id, 'KEEPTTL', 'XX');
  }

  /** The digest of one window: everything folded, as one message. */
  async sendDigest(job: DigestJob, messages: MessageService): Promise<string | undefined> {
    const folded = this.key(job.recipientsKey, `digest:${job.window}`);
    const countKey = this.key(job.recipientsKey, `digest:${job.window}:count`);
    const [raw, counted] = await Promise.all([this.redis.lrange(folded, 0, -1), this.redis.get(countKey)]);
    if (raw.length === 0) return undefined;
    const items = raw.map((r) => JSON.parse(r) as FoldedItem);
    const total = Math.max(items.length, Number(counted ?? 0));
    const request: SendRequest = {
      event: 'alert.digest',
      to: job.to,
      app: job.app,
      // Accepted without a caller: the gateway's own idempotency namespace, which no caller's key reaches.
      idempotencyKey: `digest-${job.recipientsKey}-${job.window}`,
      data: { count: total, windowSeconds: 60, items, more: Math.max(0, total - items.length) || null },
    };
    const { id } = await messages.accept(request);
    await this.redis.del(folded, countKey);
    return id;
  }

  startWorker(connection: ConnectionOptions, messages: MessageService, logger: Logger): Worker<DigestJob> {
    const worker = new Worker<DigestJob>(
      DIGEST_QUEUE,
      (job) =>
        settleThrown(job, async () => {
          const id = await this.sendDigest(job.data, messages);
          logger.info({ window: job.data.window, messageId: id }, 'alert storm digest sent');
        }),
      { connection, prefix: this.settings.keys.queuePrefix },
    );
    worker.on('error', (err) => logger.error({ err }, 'digest worker error'));
    return worker;
  }

  close(): Promise<void> {
    return this.digestQueue.close();
  }
}
