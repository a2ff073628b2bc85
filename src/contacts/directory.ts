import type { Redis } from 'ioredis';
import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import type { CallbackEvent } from '../wecom/callback/event';
import type { ContactChange, ContactDepartment, ContactUser } from '../wecom/callback/contact-change';
import type { SealedJson } from './sealed-json';

/** What every sink receives and the change feed lists (ids are the feed's cursor). */
export interface ContactChangeRecord {
  /** Stable per WeCom push: receivers dedupe on it. */
  id: string;
  type: 'user' | 'department' | 'tag' | 'unknown';
  action: 'created' | 'updated' | 'deleted' | 'unknown';
  event: string;
  at: string;
  before?: unknown;
  after?: unknown;
  reason?: string;
  raw: Record<string, unknown>;
}

export interface FeedEntry {
  cursor: string;
  change: ContactChangeRecord;
}

interface TagRecord {
  tagId: number;
  users: string[];
  parties: number[];
}

const FEED_MAX = 1_000_000;

/**
 * The local mirror of WeCom's address book and its change feed, in Redis under
 * one hash tag (`{<prefix>:contacts}`) so each change is one MULTI even on Cluster:
 * the entity, the feed entry (a stream: its ids order the changes for every sink)
 * and an "applied" marker that makes re-running a job harmless.
 *
 * Changes are applied one at a time per process on a dedicated connection
 * (WATCH is per connection); WATCH makes concurrent instances retry instead of
 * losing an update.
 */
export class Directory {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: RedisClient,
    /** A connection of its own for WATCH/MULTI. */
    private readonly txRedis: Redis,
    private readonly sealed: SealedJson,
    private readonly keys: RedisKeys['contacts'],
  ) {}

  get feedKey(): string {
    return this.keys.feed;
  }

  private userKey(userId: string): string {
    return this.keys.user(userId);
  }

  private departmentKey(id: number): string {
    return this.keys.department(id);
  }

  private tagKey(id: number): string {
    return this.keys.tag(id);
  }

  /** Applies one change and records it in the feed; answers undefined when this push was applied before. */
  apply(parsed: ContactChange, event: CallbackEvent): Promise<ContactChangeRecord | undefined> {
    const run = this.chain.then(() => this.applyWithRetry(parsed, event));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyWithRetry(parsed: ContactChange, event: CallbackEvent): Promise<ContactChangeRecord | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const result = await this.tryApply(parsed, event);
      if (result !== 'conflict') return result;
    }
    throw new Error('contact change kept conflicting with concurrent writers');
  }

  private async tryApply(parsed: ContactChange, event: CallbackEvent): Promise<ContactChangeRecord | undefined | 'conflict'> {
    const tx = this.txRedis;
    const marker = this.keys.applied(event.dedupeKey);
    const keys = [marker, ...this.entityKeys(parsed)];
    await tx.watch(...keys);
    try {
      if (await tx.exists(marker)) return undefined;
      const multi = tx.multi();
      const record = await this.plan(parsed, event, multi);
      multi.xadd(this.feedKey, 'MAXLEN', '~', String(FEED_MAX), '*', 'change', this.sealed.seal(record));
      multi.set(marker, '1', 'EX', 7 * 86_400);
      const done = await multi.exec();
      return done === null ? 'conflict' : record;
    } finally {
      await tx.unwatch();
    }
  }

  private entityKeys(parsed: ContactChange): string[] {
    switch (parsed.kind) {
      case 'user':
        return parsed.action !== 'deleted' && parsed.newUserId
          ? [this.userKey(parsed.userId), this.userKey(parsed.newUserId)]
          : [this.userKey(parsed.userId)];
      case 'department':
        return [this.departmentKey(parsed.id)];
      case 'tag':
        return [this.tagKey(parsed.membership.tagId)];
      default:
        return [];
    }
  }

  private async readJson<T>(key: string): Promise<T | undefined> {
    const stored = await this.txRedis.get(key);
    return stored === null ? undefined : this.sealed.open<T>(stored);
  }

  /** Reads the entity, computes before/after, and queues the writes on `multi`. */
  private async plan(parsed: ContactChange, event: CallbackEvent, multi: ReturnType<Redis['multi']>): Promise<ContactChangeRecord> {
    const base = { id: event.dedupeKey, at: new Date(event.receivedAt).toISOString(), raw: event.fields };
    switch (parsed.kind) {
      case 'user': {
        const before = await this.readJson<ContactUser>(this.userKey(parsed.userId));
        if (parsed.action === 'deleted') {
          multi.del(this.userKey(parsed.userId)).srem(this.keys.users, parsed.userId.toLowerCase());
          return { ...base, type: 'user', action: 'deleted', event: 'user.deleted', before, after: undefined };
        }
        // An update for a user we never saw creates the record from what it carries.
        const userId = parsed.newUserId ?? parsed.userId;
        const after: ContactUser & { previousUserId?: string } = { ...(before ?? {}), ...parsed.attributes, userId };
        if (parsed.newUserId && parsed.newUserId !== parsed.userId) {
          after.previousUserId = parsed.userId;
          multi.del(this.userKey(parsed.userId)).srem(this.keys.users, parsed.userId.toLowerCase());
        }
        multi.set(this.userKey(userId), this.sealed.seal(after)).sadd(this.keys.users, userId.toLowerCase());
        return {
          ...base,
          type: 'user',
          action: parsed.action,
          event: `user.${parsed.action}`,
          before,
          after: parsed.newUserId ? { ...after, newUserId: parsed.newUserId } : after,
        };
      }
      case 'department': {
        const key = this.departmentKey(parsed.id);
        const before = await this.readJson<ContactDepartment>(key);
        if (parsed.action === 'deleted') {
          multi.del(key).srem(this.keys.departments, String(parsed.id));
          return { ...base, type: 'department', action: 'deleted', event: 'department.deleted', before, after: undefined };
        }
        const after: ContactDepartment = { ...(before ?? {}), ...parsed.attributes, id: parsed.id };
        multi.set(key, this.sealed.seal(after)).sadd(this.keys.departments, String(parsed.id));
        return { ...base, type: 'department', action: parsed.action, event: `department.${parsed.action}`, before, after };
      }
      case 'tag': {
        const { membership } = parsed;
        const key = this.tagKey(membership.tagId);
        const before = await this.readJson<TagRecord>(key);
        const users = new Set(before?.users ?? []);
        const parties = new Set(before?.parties ?? []);
        membership.addedUsers.forEach((u) => users.add(u));
        membership.removedUsers.forEach((u) => users.delete(u));
        membership.addedParties.forEach((p) => parties.add(p));
        membership.removedParties.forEach((p) => parties.delete(p));
        const after: TagRecord = { tagId: membership.tagId, users: [...users].sort(), parties: [...parties].sort((a, b) => a - b) };
        multi.set(key, this.sealed.seal(after));
        return {
          ...base,
          type: 'tag',
          action: 'updated',
          event: 'tag.updated',
          before,
          after: {
            ...after,
            added: { users: membership.addedUsers, parties: membership.addedParties },
            removed: { users: membership.removedUsers, parties: membership.removedParties },
          },
        };
      }
      default:
        return { ...base, type: 'unknown', action: 'unknown', event: 'unknown', reason: parsed.reason };
    }
  }

  async user(userId: string): Promise<ContactUser | undefined> {
    const stored = await this.redis.get(this.userKey(userId));
    return stored === null ? undefined : this.sealed.open<ContactUser>(stored);
  }

  async departments(): Promise<ContactDepartment[]> {
    const ids = await this.redis.smembers(this.keys.departments);
    if (ids.length === 0) return [];
    const stored = await this.redis.mget(...ids.map((id) => this.departmentKey(Number(id))));
    return parentsFirst(stored.filter((s): s is string => s !== null).map((s) => this.sealed.open<ContactDepartment>(s)));
  }

  /** Feed entries strictly after `cursor` (a stream id; '0' for the beginning). */
  async changesAfter(cursor: string, limit: number): Promise<FeedEntry[]> {
    const entries = await this.redis.xrange(this.feedKey, cursor === '0' ? '-' : `(${cursor}`, '+', 'COUNT', limit);
    return entries.map(([id, values]) => ({ cursor: id, change: this.sealed.open<ContactChangeRecord>(values[1]) }));
  }
}

/** Each department after its parent (depth first, siblings by WeCom's order); orphans and cycles last, never lost. */
export function parentsFirst(departments: ContactDepartment[]): ContactDepartment[] {
  const bySibling = (a: ContactDepartment, b: ContactDepartment) => (a.order ?? 0) - (b.order ?? 0) || a.id - b.id;
  const ids = new Set(departments.map((d) => d.id));
  // The parent, when it is another department of the mirror; otherwise the department is a root.
  const parentOf = (d: ContactDepartment) =>
    d.parentId !== undefined && d.parentId !== d.id && ids.has(d.parentId) ? d.parentId : undefined;
  const children = new Map<number, ContactDepartment[]>();
  for (const d of departments) {
    const parent = parentOf(d);
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), d]);
  }
  const out: ContactDepartment[] = [];
  const seen = new Set<number>();
  const visit = (d: ContactDepartment) => {
    if (seen.has(d.id)) return;
    seen.add(d.id);
    out.push(d);
    for (const child of (children.get(d.id) ?? []).sort(bySibling)) visit(child);
  };
  for (const root of departments.filter((d) => parentOf(d) === undefined).sort(bySibling)) visit(root);
  for (const rest of [...departments].sort(bySibling)) visit(rest);
  return out;
}
