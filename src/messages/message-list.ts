import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import type { MessageView } from './message-record';
import { indexMessage } from './store-scripts';

/**
 * The lists messages are found by: the index GET /v1/messages pages through
 * (everyone's, and each creator's), and the dashboard's recent messages. Both
 * hold ids only; the views are the store's.
 */

const RECENT_KEPT = 500;
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

/** What GET /v1/messages asks the list. */
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

export class MessageList {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number; clock: () => number },
    /** A message's view by id (the store's), undefined once its record is gone. */
    private readonly view: (id: string) => Promise<MessageView | undefined>,
  ) {}

  /**
   * The dashboard's "recent messages": a capped list in a key of its own (another
   * Cluster slot than the record), written by the worker so that accepting writes the record in one script.
   */
  async noteRecent(id: string): Promise<void> {
    // No transaction: a list a few entries longer for a moment is harmless, and two commands are cheaper than four.
    await Promise.all([
      this.redis.lpush(this.options.keys.recentMessages, id),
      this.redis.ltrim(this.options.keys.recentMessages, 0, RECENT_KEPT - 1),
    ]);
  }

  /** The newest messages still within the retention, newest first. */
  async recent(limit = 50): Promise<MessageView[]> {
    const ids = await this.redis.lrange(this.options.keys.recentMessages, 0, limit - 1);
    const views = await Promise.all(ids.map((id) => this.view(id)));
    return views.filter((v): v is MessageView => v !== undefined);
  }

  /**
   * Lists the message (GET /v1/messages) in everyone's index and its creator's.
   * Another slot than the record: a separate step, after the record is safe. A
   * message removed again later (it could not be queued) leaves an entry that the
   * list skips, since its record is gone, until it ages out.
   */
  async add(id: string, createdAt: number, createdBy: string): Promise<void> {
    const ttl = this.options.retentionSeconds;
    await indexMessage(this.redis, [this.options.keys.messageIndex, this.options.keys.messageIndexBy(createdBy)], {
      entry: indexEntry(createdAt, id),
      oldestKept: timeKey(this.options.clock() - ttl * 1000),
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
    const oldest = Math.max(query.since ?? 0, this.options.clock() - this.options.retentionSeconds * 1000);
    // Entries are `<ms>:<id>`, and `<ms>` sorts before them: `(<ms>` as the top leaves that millisecond out,
    // `[<ms>` as the bottom takes it in.
    let max = query.cursor !== undefined ? `(${query.cursor}` : query.until !== undefined ? `(${timeKey(query.until)}` : '+';
    const min = `[${timeKey(oldest)}`;
    const messages: MessageView[] = [];
    let read = 0;
    while (read < LIST_SCAN_MAX) {
      // Without a filter the first batch fills the page; with one, at least 20 at a time.
      const batch = Math.min(LIST_SCAN_MAX - read, Math.max(query.limit - messages.length, 20));
      const entries = await this.redis.zrevrangebylex(key, max, min, 'LIMIT', 0, batch);
      const views = await Promise.all(entries.map((entry) => this.view(entry.slice(14))));
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
}
