import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { compareAndDelete } from '../redis/atomic';
import { backoffMs } from '../queues/backoffs';
import { backoffOf, SYNC_LINE } from '../queues/catalog';
import { settle } from '../queues/settle';
import { deliveryResult, postSignedJson, type DeliveryResult } from '../webhooks/webhook-outbox';
import type { ContactChangeRecord, Directory, FeedEntry } from './directory';
import type { SealedJson } from './sealed-json';

export interface ContactSink {
  name: string;
  url: string;
  secret?: string;
}

export interface SinkDeadLetter {
  sink: string;
  cursor: string;
  change: ContactChangeRecord;
  error: string;
  attempts: number;
  failedAt: string;
}

export interface SyncOptions {
  keys: RedisKeys['contacts'];
  /** The base of the line's backoff (its catalog row, SYNC_LINE, says the rest). */
  retryBaseDelayMs: number;
  timeoutMs: number;
  idleMs: number;
}

/**
 * Delivers the change feed to each sink in feed order, one change at a time,
 * resuming from the sink's cursor. A sink that is down holds its line (nothing
 * is skipped, so a create never arrives after its update) and is retried with
 * capped exponential backoff for as long as it takes. Only a change the sink
 * refuses outright (4xx) is set aside as a dead letter after a few attempts.
 *
 * BullMQ's retries cannot keep this order (a failed job waits while later ones
 * run), hence this small loop. One instance at a time delivers a given sink
 * (a Redis lease), so running several gateways does not reorder or double it.
 * Dead letters carry the change (mobiles, emails): they are sealed like the
 * mirror, and a sink keeps the newest of them (SYNC_LINE's retention).
 */
export class SyncDispatcher {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly owner = randomUUID();
  /** A sink that is down holds its line for as long as it takes; only a refusal (4xx) runs out of attempts (SYNC_LINE). */
  private readonly policy: { maxAttempts: number; refusalAttempts: number; backoffMs: (attempt: number) => number };
  /** The longest wait between two attempts: the lease outlives it. */
  private readonly maxBackoffMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly directory: Directory,
    private readonly sealed: SealedJson,
    private readonly sinks: ContactSink[],
    private readonly options: SyncOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    const backoff = backoffOf(SYNC_LINE, { RETRY_BASE_DELAY_MS: options.retryBaseDelayMs });
    this.maxBackoffMs = backoff.strategy === 'cappedExponential' ? backoff.max : 0;
    this.policy = { maxAttempts: SYNC_LINE.attempts, refusalAttempts: SYNC_LINE.refusalAttempts, backoffMs: backoffMs(backoff) };
  }

  private key(sink: string, what: 'cursor' | 'lease' | 'dead' | 'redo'): string {
    return this.options.keys.sink(sink, what);
  }

  start(): void {
    this.running = true;
    for (const sink of this.sinks) this.loops.push(this.run(sink));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async run(sink: ContactSink): Promise<void> {
    while (this.running) {
      try {
        if (!(await this.holdLease(sink))) {
          await sleep(this.options.idleMs * 5);
          continue;
        }
        const delivered = await this.deliverNext(sink);
        if (!delivered) await sleep(this.options.idleMs);
      } catch (error) {
        this.logger.warn({ sink: sink.name, err: (error as Error).message }, 'contact sync loop error');
        await sleep(this.options.idleMs * 5);
      }
    }
    await compareAndDelete(this.redis, this.key(sink.name, 'lease'), this.owner).catch(() => undefined);
  }

  private async holdLease(sink: ContactSink): Promise<boolean> {
    const lease = this.key(sink.name, 'lease');
    const ttl = Math.max(10_000, this.maxBackoffMs * 2);
    if (await this.redis.set(lease, this.owner, 'PX', ttl, 'NX')) return true;
    if ((await this.redis.get(lease)) !== this.owner) return false;
    await this.redis.pexpire(lease, ttl);
    return true;
  }

  /** Delivers the next change (a replayed dead letter first); false when there was nothing to do. */
  private async deliverNext(sink: ContactSink): Promise<boolean> {
    const redo = await this.redis.lindex(this.key(sink.name, 'redo'), 0);
    if (redo) {
      const letter = this.sealed.open<SinkDeadLetter>(redo);
      await this.deliverWithRetries(sink, { cursor: letter.cursor, change: letter.change });
      await this.redis.lpop(this.key(sink.name, 'redo'));
      return true;
    }
    const cursor = (await this.redis.get(this.key(sink.name, 'cursor'))) ?? '0';
    const [next] = await this.directory.changesAfter(cursor, 1);
    if (!next) {
      this.metrics.contactSyncLag.set({ sink: sink.name }, 0);
      return false;
    }
    await this.deliverWithRetries(sink, next);
    await this.redis.set(this.key(sink.name, 'cursor'), next.cursor);
    return true;
  }

  private async deliverWithRetries(sink: ContactSink, entry: FeedEntry): Promise<void> {
    for (let attempt = 1; this.running; attempt++) {
      // A metric on the wall clock, which stamped the change as its push arrived (the callback's receivedAt).
      this.metrics.contactSyncLag.set({ sink: sink.name }, (Date.now() - Date.parse(entry.change.at)) / 1000);
      const verdict = settle(deliveryResult(await this.deliver(sink, entry.change, attempt)), { attempt, ...this.policy });
      if (verdict.kind === 'done') {
        this.metrics.contactSyncDelivered.inc({ sink: sink.name });
        return;
      }
      const error = verdict.reason;
      if (verdict.kind === 'fail') {
        const letter: SinkDeadLetter = {
          sink: sink.name,
          cursor: entry.cursor,
          change: entry.change,
          error,
          attempts: attempt,
          failedAt: new Date().toISOString(),
        };
        const dead = this.key(sink.name, 'dead');
        await this.redis.multi().rpush(dead, this.sealed.seal(letter)).ltrim(dead, -SYNC_LINE.retention.deadLetters, -1).exec();
        this.metrics.contactSyncDeadLettered.inc({ sink: sink.name });
        this.logger.warn({ sink: sink.name, changeId: entry.change.id, error }, 'contact change refused by sink; dead-lettered');
        return;
      }
      this.metrics.contactSyncRetries.inc({ sink: sink.name });
      const retryInMs = Math.round(verdict.kind === 'retry' ? (verdict.afterMs ?? 0) : 0);
      this.logger.info(
        { sink: sink.name, changeId: entry.change.id, attempt, error, retryInMs },
        'contact sync delivery failed; retrying in order',
      );
      await sleep(retryInMs);
      // Another instance took the sink over (our lease lapsed, e.g. while Redis was away): it delivers from the cursor.
      if (!(await this.holdLease(sink))) throw new Error('lease lost to another instance');
    }
    throw new Error('stopped');
  }

  private deliver(sink: ContactSink, change: ContactChangeRecord, attempt: number): Promise<DeliveryResult> {
    return postSignedJson(sink.url, change, { id: change.id, attempt, secret: sink.secret, timeoutMs: this.options.timeoutMs });
  }

  async deadLetters(sinkName?: string): Promise<SinkDeadLetter[]> {
    const sinks = this.sinks.filter((s) => sinkName === undefined || s.name === sinkName);
    const lists = await Promise.all(sinks.map((s) => this.redis.lrange(this.key(s.name, 'dead'), 0, -1)));
    return lists.flat().map((raw) => this.sealed.open<SinkDeadLetter>(raw));
  }

  /** Moves a sink's dead letters to the front of its line; answers how many. */
  async replay(sinkName?: string): Promise<number> {
    let count = 0;
    for (const sink of this.sinks.filter((s) => sinkName === undefined || s.name === sinkName)) {
      const [letters] = (await this.redis.multi().lrange(this.key(sink.name, 'dead'), 0, -1).del(this.key(sink.name, 'dead')).exec()) ?? [];
      const list = (letters?.[1] as string[] | undefined) ?? [];
      if (list.length > 0) await this.redis.rpush(this.key(sink.name, 'redo'), ...list);
      count += list.length;
    }
    return count;
  }

  /** Moves one dead letter (by change id, in one sink or any) to the front of its sink's line; answers how many. */
  async replayOne(changeId: string, sinkName?: string): Promise<number> {
    let count = 0;
    for (const sink of this.sinks.filter((s) => sinkName === undefined || s.name === sinkName)) {
      const dead = this.key(sink.name, 'dead');
      for (const raw of await this.redis.lrange(dead, 0, -1)) {
        if (this.sealed.open<SinkDeadLetter>(raw).change.id !== changeId) continue;
        // LREM first: of two replays racing, only the one that removed it puts it back in line.
        if ((await this.redis.lrem(dead, 1, raw)) === 1) {
          await this.redis.rpush(this.key(sink.name, 'redo'), raw);
          count++;
        }
      }
    }
    return count;
  }

  hasSink(name: string): boolean {
    return this.sinks.some((s) => s.name === name);
  }
}
