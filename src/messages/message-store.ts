import { createHash } from 'node:crypto';
import { GATEWAY_CALLER_ID, LOCAL_CALLER } from '../http/auth';
import { compareAndDelete } from '../redis/atomic';
import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { MessageList, type MessageListQuery } from './message-list';
import { messageView, type AttemptRecord, type MessageRecord, type MessageView, type PartState } from './message-record';
import { carryPart, createMessage, startPart, updateOpenPart } from './store-scripts';

/** Attempts kept per message for the console's timeline (a part deferred for hours adds none). */
const ATTEMPTS_KEPT = 50;

/**
 * Message records in Redis: `<prefix>:msg:{id}` (what was asked) and
 * `<prefix>:msg:{id}:parts` (one field per send call, written by the worker).
 * The hash tag keeps both in one Cluster slot. Records expire after the retention.
 * The lists they are found by are message-list.ts's.
 */
export class MessageStore {
  private readonly clock: () => number;
  private readonly lists: MessageList;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number; clock?: () => number },
  ) {
    this.clock = options.clock ?? Date.now;
    this.lists = new MessageList(redis, { ...options, clock: this.clock }, (id) => this.get(id));
  }

  /** The dashboard's recent messages: the worker notes a message at its first attempt (see MessageList). */
  noteRecent(id: string): Promise<void> {
    return this.lists.noteRecent(id);
  }

  /** The newest messages still within the retention, newest first. */
  recent(limit = 50): Promise<MessageView[]> {
    return this.lists.recent(limit);
  }

  /** A page of GET /v1/messages (see MessageList.list). */
  list(query: MessageListQuery): Promise<{ messages: MessageView[]; next?: string }> {
    return this.lists.list(query);
  }

  private recordKey(id: string): string {
    return this.options.keys.message(id);
  }

  private partsKey(id: string): string {
    return this.options.keys.messageParts(id);
  }

  /** Each caller claims idempotency keys in its own namespace: two callers using the same key get two messages. */
  private idempotencyKey(createdBy: string, key: string): string {
    const hash = createHash('sha256').update(key).digest('hex');
    return createdBy === GATEWAY_CALLER_ID ? this.options.keys.internalIdempotency(hash) : this.options.keys.idempotency(createdBy, hash);
  }

  /**
   * Persists the record with every part queued. With an idempotency key, the
   * first message to claim the key wins; a later one is removed again and the
   * winner's id is answered (`created: false`).
   */
  async create(record: MessageRecord, idempotencyKey?: string): Promise<{ id: string; created: boolean; requestHash?: string }> {
    const queued: PartState = { status: 'queued', attempts: 0, updatedAt: this.clock() };
    const ttl = this.options.retentionSeconds;
    const createdBy = record.createdBy ?? LOCAL_CALLER.id;
    const fields = {
      ...record,
      createdBy,
      requestId: record.requestId ?? '',
      callbackUrl: record.callbackUrl ?? '',
      destinations: JSON.stringify(record.destinations ?? []),
      recipients: record.recipients ?? '',
      requestHash: record.requestHash ?? '',
      coalesce: record.coalesce === false ? 'false' : '',
    };
    await createMessage(
      this.redis,
      { record: this.recordKey(record.id), parts: this.partsKey(record.id) },
      { ttlSeconds: ttl, parts: record.parts, queuedPart: JSON.stringify(queued), fields },
    );
    if (idempotencyKey !== undefined) {
      const claim = this.idempotencyKey(createdBy, idempotencyKey);
      const claimed = await this.redis.set(claim, record.id, 'EX', ttl, 'NX');
      if (!claimed) {
        await this.remove(record.id);
        const winner = (await this.redis.get(claim)) ?? record.id;
        // The winner's record was written before its claim: its hash is there to compare with.
        const winnerHash = await this.redis.hget(this.recordKey(winner), 'requestHash');
        return { id: winner, created: false, ...(winnerHash ? { requestHash: winnerHash } : {}) };
      }
    }
    await this.lists.add(record.id, record.createdAt, createdBy);
    return { id: record.id, created: true };
  }

  /** Removes a message that could not be queued, and releases its idempotency key (claimed by `createdBy`) if it holds it. */
  async remove(id: string, idempotency?: { createdBy: string; key: string }): Promise<void> {
    await this.redis.del(this.recordKey(id), this.partsKey(id), this.options.keys.messageAttempts(id));
    if (idempotency !== undefined) await compareAndDelete(this.redis, this.idempotencyKey(idempotency.createdBy, idempotency.key), id);
  }

  /**
   * An attempt of a part begins: answers the state it had (undefined: no record), and
   * marks it `sending` (keeping the last attempt's error) unless it is already sent or recalled, in one step.
   */
  async startPart(id: string, part: number, attempts: number): Promise<PartState | undefined> {
    const before = await startPart(
      this.redis,
      this.partsKey(id),
      part,
      JSON.stringify({ status: 'sending', attempts, updatedAt: this.clock() } satisfies PartState),
    );
    return before ? (JSON.parse(before) as PartState) : undefined;
  }

  /** A part's new state; with the attempt that led to it, the timeline gets it in the same round trip. */
  async updatePart(id: string, part: number, state: Omit<PartState, 'updatedAt'>, attempt?: AttemptRecord): Promise<void> {
    const value = JSON.stringify({ ...state, updatedAt: this.clock() });
    if (!attempt) return void (await this.redis.hset(this.partsKey(id), String(part), value));
    const attemptsKey = this.options.keys.messageAttempts(id);
    // One slot (the hash tag), one MULTI: a part's state and its timeline never disagree.
    await this.redis
      .multi()
      .hset(this.partsKey(id), String(part), value)
      .rpush(attemptsKey, JSON.stringify(attempt))
      .ltrim(attemptsKey, -ATTEMPTS_KEPT, -1)
      .expire(attemptsKey, this.options.retentionSeconds)
      .exec();
  }

  /** A waiting part's new state, unless it was sent or recalled meanwhile (by a carrier, coalesce.ts). */
  async updateOpenPart(id: string, part: number, state: Omit<PartState, 'updatedAt'>): Promise<void> {
    await updateOpenPart(this.redis, this.partsKey(id), part, JSON.stringify({ ...state, updatedAt: this.clock() }));
  }

  /**
   * A carrier takes a waiting part into its merged message (marked `sending`, coalescedInto the carrier) or gives
   * it back (`release` with the state it had); `done`: whether it did, `before`: the state it had (undefined: gone).
   */
  async carryPart(
    id: string,
    part: number,
    mode: 'take' | 'release',
    state: Omit<PartState, 'updatedAt'>,
  ): Promise<{ done: boolean; before?: PartState }> {
    const answer = await carryPart(this.redis, this.partsKey(id), part, mode, JSON.stringify({ ...state, updatedAt: this.clock() }));
    return { done: answer.done, ...(answer.before ? { before: JSON.parse(answer.before) as PartState } : {}) };
  }

  /** The parts (send ids) a carrier part's WeCom message held beside its own (coalesce.ts): a recall takes them back with it. */
  async noteCarried(carrier: { messageId: string; part: number }, sendIds: string[]): Promise<void> {
    await this.redis.hset(this.recordKey(carrier.messageId), `carried:${carrier.part}`, JSON.stringify(sendIds));
  }

  /** The parts a carrier part's message held (noteCarried). */
  async carriedBy(id: string, part: number): Promise<string[]> {
    return JSON.parse((await this.redis.hget(this.recordKey(id), `carried:${part}`)) ?? '[]') as string[];
  }

  /** Every attempt's outcome, oldest first (the last 50). */
  async attempts(id: string): Promise<AttemptRecord[]> {
    return (await this.redis.lrange(this.options.keys.messageAttempts(id), 0, -1)).map((raw) => JSON.parse(raw) as AttemptRecord);
  }

  /** A new part for members split off to a later send; answers its index. */
  async addPart(id: string, state: Omit<PartState, 'updatedAt'>): Promise<number> {
    const count = await this.redis.hincrby(this.recordKey(id), 'parts', 1);
    await this.updatePart(id, count - 1, state);
    return count - 1;
  }

  /** Every part's state, in part order (for a recall). */
  async parts(id: string): Promise<PartState[]> {
    const raw = await this.redis.hgetall(this.partsKey(id));
    return Object.entries(raw)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, value]) => JSON.parse(value) as PartState);
  }

  async getPart(id: string, part: number): Promise<PartState | undefined> {
    const raw = await this.redis.hget(this.partsKey(id), String(part));
    return raw ? (JSON.parse(raw) as PartState) : undefined;
  }

  async get(id: string): Promise<MessageView | undefined> {
    const [record, parts] = await Promise.all([this.redis.hgetall(this.recordKey(id)), this.parts(id)]);
    return messageView(record, parts);
  }
}
