import { createHash } from 'node:crypto';
import { GATEWAY_CALLER_ID, LOCAL_CALLER } from '../http/auth';
import { compareAndDelete } from '../redis/atomic';
import type { RedisClient } from '../redis/connection';
import { createMessage, indexMessage, startPart } from './store-scripts';
import type { RedisKeys } from '../redis/keys';

const RECENT_KEPT = 500;
/** Attempts kept per message for the console's timeline (a part deferred for hours adds none). */
const ATTEMPTS_KEPT = 50;
/** The recipients summary a record keeps: enough to find a message by a member, not a 10,000-name list. */
const RECIPIENTS_KEPT = 512;
/**
 * Entries each message index keeps (GET /v1/messages): about 10 MB of Redis for
 * 100,000; beyond, the oldest drop off the list (still readable by id until they expire).
 */
const INDEX_KEPT = 100_000;
/**
 * Index entries one list request reads at most, matching or not: a filter that
 * matches little answers a short page and a cursor, never a scan of the whole retention.
 */
const LIST_SCAN_MAX = 2_000;

/** Epoch ms in 13 digits (good to the year 2286): as text, they sort as the times they are. */
const timeKey = (ms: number) => String(ms).padStart(13, '0');
/** An index entry: the message's time, then its id (which orders messages of the same millisecond). */
const indexEntry = (createdAt: number, id: string) => `${timeKey(createdAt)}:${id}`;
const ENTRY = /^\d{13}:[0-9a-f-]{36}$/;
/** Whether a caller's cursor is an index entry (anything else would be a Redis range of the caller's making). */
export const isListCursor = (cursor: string) => ENTRY.test(cursor);

/** What GET /v1/messages asks the store. */
export interface MessageListQuery {
  /** Whose messages: one creator's, or everyone's (undefined: an admin). */
  createdBy?: string;
  /** Accepted at or after (ms). */
  since?: number;
  /** Accepted before (ms). */
  until?: number;
  /** Where the previous page stopped (its `next`). */
  cursor?: string;
  limit: number;
  matches: (view: MessageView) => boolean;
}

export type MessageStatus = 'queued' | 'deferred' | 'sending' | 'sent' | 'failed' | 'recalled';
export type PartStatus = 'queued' | 'deferred' | 'sending' | 'sent' | 'failed' | 'recalled';

export interface RecipientList {
  users: string[];
  parties: string[];
  tags: string[];
}

/** The state of one message/send call of a message (a message to 2500 users has 3 parts). */
export interface PartState {
  status: PartStatus;
  attempts: number;
  msgid?: string;
  /** An interactive card's send code: it updates the card once (message/update_template_card), within 72 h. */
  responseCode?: string;
  error?: { errcode: number; errmsg: string; hint?: string };
  invalid?: RecipientList;
  /** While deferred: when the members' budget allows it (ms), and why. */
  until?: number;
  reason?: string;
  updatedAt: number;
}

export interface MessageRecord {
  id: string;
  /** With an idempotency key: the hash of the request (requestHash), to tell a repeat from a reuse of the key. */
  requestHash?: string;
  event: string;
  msgtype: string;
  app: string;
  parts: number;
  createdAt: number;
  requestId?: string;
  /** Where the final status is POSTed. */
  callbackUrl?: string;
  /** Each part's destination (`members`, `robot ops`, `chat abc`), when the message reaches a group. */
  destinations?: string[];
  /** Who it was addressed to, as `recipientsSummary` writes it. */
  recipients?: string;
  /**
   * The caller's id (a key's id, never the key); `gateway` for the gateway's own
   * messages. Absent: the keyless caller's (`local`), as are records written before
   * callers had ids; apart from `local`, only admins see those.
   */
  createdBy?: string;
}

/** What GET /v1/messages/{id} answers: the parts folded into one status. */
export interface MessageView {
  id: string;
  app: string;
  event: string;
  msgtype: string;
  status: MessageStatus;
  attempts: number;
  parts: number;
  msgid?: string;
  msgids?: string[];
  error?: { errcode: number; errmsg: string; hint?: string };
  invalid?: RecipientList;
  /** While deferred: the earliest time the waiting part can go, and why it waits. */
  deferred?: { until: string; reason: string };
  callbackUrl?: string;
  /** Who created it: a key's id (never the key), `local` (keyless), `gateway` (digests, extensions). */
  createdBy: string;
  /** With robots or chats among the destinations: what became of each part. */
  deliveries?: { to: string; status: PartStatus; error?: PartState['error'] }[];
  /** Who it was addressed to (`users zhangsan|lisi; parties 2; robots ops`), cut after 512 characters. */
  recipients?: string;
  createdAt: string;
  updatedAt: string;
}

/** One attempt of one part as the worker saw it end: the console's timeline. */
export interface AttemptRecord {
  part: number;
  attempt: number;
  /** When the attempt ended, and how long it took (ms). */
  at: number;
  ms: number;
  /** sent; retry (will be retried); failed (for good); paused (WeCom's 45009: the queue waits). */
  outcome: 'sent' | 'retry' | 'failed' | 'paused';
  to: string;
  error?: { errcode: number; errmsg: string; hint?: string };
}

/** `users a|b; parties 2; robots ops` or `@all`, cut to what a record keeps. */
export function recipientsSummary(to: '@all' | Partial<Record<'users' | 'parties' | 'tags' | 'robots' | 'chats', string[]>>): string {
  if (to === '@all') return '@all';
  const summary = (['users', 'parties', 'tags', 'robots', 'chats'] as const)
    .filter((kind) => (to[kind]?.length ?? 0) > 0)
    .map((kind) => `${kind} ${to[kind]!.join('|')}`)
    .join('; ');
  return summary.length > RECIPIENTS_KEPT ? `${summary.slice(0, RECIPIENTS_KEPT - 1)}…` : summary;
}

/** The message's status from its parts' (a recall anywhere wins; all sent is sent; all done with one failed is failed). */
export function foldStatus(parts: PartState[]): MessageStatus {
  if (parts.some((p) => p.status === 'recalled')) return 'recalled';
  if (parts.every((p) => p.status === 'sent')) return 'sent';
  const done = parts.every((p) => p.status === 'sent' || p.status === 'failed');
  if (done) return 'failed';
  if (parts.some((p) => p.status === 'sending')) return 'sending';
  if (parts.some((p) => p.status === 'deferred')) return 'deferred';
  return parts.some((p) => p.status !== 'queued') ? 'sending' : 'queued';
}

function deferredOf(parts: PartState[]): { deferred?: { until: string; reason: string } } {
  const waiting = parts.filter((p) => p.status === 'deferred' && p.until);
  if (waiting.length === 0) return {};
  const first = waiting.reduce((a, b) => (a.until! <= b.until! ? a : b));
  return { deferred: { until: new Date(first.until!).toISOString(), reason: first.reason ?? 'over budget' } };
}

function mergeInvalid(parts: PartState[]): RecipientList | undefined {
  const lists = parts.map((p) => p.invalid).filter((l): l is RecipientList => Boolean(l));
  if (lists.length === 0) return undefined;
  const merged = { users: lists.flatMap((l) => l.users), parties: lists.flatMap((l) => l.parties), tags: lists.flatMap((l) => l.tags) };
  return merged.users.length + merged.parties.length + merged.tags.length > 0 ? merged : undefined;
}

/** Parts split off later (members over their budget) have no destination of their own: they are members. */
function deliveriesOf(destinations: string | undefined, parts: PartState[]): Pick<MessageView, 'deliveries'> {
  const named = destinations ? (JSON.parse(destinations) as string[]) : [];
  if (!named.some((d) => d !== 'members')) return {};
  return { deliveries: parts.map((p, i) => ({ to: named[i] ?? 'members', status: p.status, ...(p.error ? { error: p.error } : {}) })) };
}

/**
 * Message records in Redis: `<prefix>:msg:{id}` (what was asked) and
 * `<prefix>:msg:{id}:parts` (one field per send call, written by the worker).
 * The hash tag keeps both in one Cluster slot. Records expire after the retention.
 */
export class MessageStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number },
  ) {}

  private recordKey(id: string): string {
    return this.options.keys.message(id);
  }

  private partsKey(id: string): string {
    return this.options.keys.messageParts(id);
  }

  private recentKey(): string {
    return this.options.keys.recentMessages;
  }

  /**
   * The dashboard's "recent messages": a capped list in a key of its own (another
   * Cluster slot than the record), written by the worker so that accepting writes the record in one script.
   */
  async noteRecent(id: string): Promise<void> {
    // No transaction: a list a few entries longer for a moment is harmless, and two commands are cheaper than four.
    await Promise.all([this.redis.lpush(this.recentKey(), id), this.redis.ltrim(this.recentKey(), 0, RECENT_KEPT - 1)]);
  }

  /** The newest messages still within the retention, newest first. */
  async recent(limit = 50): Promise<MessageView[]> {
    const ids = await this.redis.lrange(this.recentKey(), 0, limit - 1);
    const views = await Promise.all(ids.map((id) => this.get(id)));
    return views.filter((v): v is MessageView => v !== undefined);
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
    const queued: PartState = { status: 'queued', attempts: 0, updatedAt: Date.now() };
    const ttl = this.options.retentionSeconds;
    const createdBy = record.createdBy ?? LOCAL_CALLER.id;
    const fields = { ...record, createdBy, requestId: record.requestId ?? '', callbackUrl: record.callbackUrl ?? '', destinations: JSON.stringify(record.destinations ?? []), recipients: record.recipients ?? '', requestHash: record.requestHash ?? '' };
    await createMessage(this.redis, { record: this.recordKey(record.id), parts: this.partsKey(record.id) }, { ttlSeconds: ttl, parts: record.parts, queuedPart: JSON.stringify(queued), fields });
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
    await this.index(record.id, record.createdAt, createdBy);
    return { id: record.id, created: true };
  }

  /**
   * Lists the message (GET /v1/messages) in everyone's index and its creator's.
   * Another slot than the record: a separate step, after the record is safe. A
   * message removed again later (it could not be queued) leaves an entry that the
   * list skips, since its record is gone, until it ages out.
   */
  private async index(id: string, createdAt: number, createdBy: string): Promise<void> {
    const ttl = this.options.retentionSeconds;
    await indexMessage(this.redis, [this.options.keys.messageIndex, this.options.keys.messageIndexBy(createdBy)], {
      entry: indexEntry(createdAt, id),
      oldestKept: timeKey(Date.now() - ttl * 1000),
      cap: INDEX_KEPT,
      ttlSeconds: ttl,
    });
  }

  /**
   * Messages newest first, from the index of those the caller may see, within the
   * retention. Reads at most LIST_SCAN_MAX entries: `next` (where the reading
   * stopped) is given whenever more may follow, even after a page shorter than
   * `limit`, so a caller pages on while there is a `next`.
   */
  async list(query: MessageListQuery): Promise<{ messages: MessageView[]; next?: string }> {
    const key = query.createdBy === undefined ? this.options.keys.messageIndex : this.options.keys.messageIndexBy(query.createdBy);
    const oldest = Math.max(query.since ?? 0, Date.now() - this.options.retentionSeconds * 1000);
    // Entries are `<ms>:<id>`, and `<ms>` sorts before them: `(<ms>` as the top leaves that millisecond out, `[<ms>` as the bottom takes it in.
    let max = query.cursor !== undefined ? `(${query.cursor}` : query.until !== undefined ? `(${timeKey(query.until)}` : '+';
    const min = `[${timeKey(oldest)}`;
    const messages: MessageView[] = [];
    let read = 0;
    while (read < LIST_SCAN_MAX) {
      // Without a filter the first batch fills the page; with one, at least 20 at a time.
      const batch = Math.min(LIST_SCAN_MAX - read, Math.max(query.limit - messages.length, 20));
      const entries = await this.redis.zrevrangebylex(key, max, min, 'LIMIT', 0, batch);
      const views = await Promise.all(entries.map((entry) => this.get(entry.slice(14))));
      for (const [i, entry] of entries.entries()) {
        read++;
        const view = views[i];
        if (view && query.matches(view)) messages.push(view);
        if (messages.length === query.limit) {
          const more = i < entries.length - 1 || entries.length === batch;
          return { messages, ...(more ? { next: entry } : {}) };
        }
      }
      if (entries.length < batch) return { messages };
      max = `(${entries.at(-1)}`;
    }
    return { messages, next: max.slice(1) };
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
    const before = await startPart(this.redis, this.partsKey(id), part, JSON.stringify({ status: 'sending', attempts, updatedAt: Date.now() } satisfies PartState));
    return before ? (JSON.parse(before) as PartState) : undefined;
  }

  /** A part's new state; with the attempt that led to it, the timeline gets it in the same round trip. */
  async updatePart(id: string, part: number, state: Omit<PartState, 'updatedAt'>, attempt?: AttemptRecord): Promise<void> {
    const value = JSON.stringify({ ...state, updatedAt: Date.now() });
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
    if (!record.id) return undefined;
    const msgids = parts.map((p) => p.msgid).filter((m): m is string => Boolean(m));
    const failed = parts.find((p) => p.status === 'failed' && p.error) ?? parts.find((p) => p.error && p.status !== 'sent');
    return {
      id: record.id,
      app: record.app,
      event: record.event,
      msgtype: record.msgtype,
      status: foldStatus(parts),
      attempts: Math.max(0, ...parts.map((p) => p.attempts)),
      parts: parts.length,
      ...(msgids.length > 0 ? { msgid: msgids[0] } : {}),
      ...(msgids.length > 1 ? { msgids } : {}),
      ...(failed?.error ? { error: failed.error } : {}),
      ...(mergeInvalid(parts) ? { invalid: mergeInvalid(parts) } : {}),
      ...deferredOf(parts),
      ...(record.callbackUrl ? { callbackUrl: record.callbackUrl } : {}),
      createdBy: record.createdBy || LOCAL_CALLER.id,
      ...deliveriesOf(record.destinations, parts),
      ...(record.recipients ? { recipients: record.recipients } : {}),
      createdAt: new Date(Number(record.createdAt)).toISOString(),
      updatedAt: new Date(Math.max(Number(record.createdAt), ...parts.map((p) => p.updatedAt))).toISOString(),
    };
  }
}
