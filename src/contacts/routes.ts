import type { Request } from 'express';
import { presentedKey } from '../http/auth';
import { ApiError } from '../http/errors';
import { limitParam, queryParam, type Route } from '../http/route';
import type { ContactUser } from '../wecom/callback/contact-change';
import { PERSONAL_FIELDS } from './contact-change';
import type { ContactChangeRecord, Directory } from './directory';
import type { SyncDispatcher } from './sync-dispatcher';

function maskValue(value: string): string {
  const at = value.indexOf('@');
  if (at > 0) return `${value[0]}***${value.slice(at)}`;
  return value.length <= 4 ? '****' : `${value.slice(0, 3)}****${value.slice(-2)}`;
}

/**
 * Custom attributes hold what a corp adds (ID numbers, personal phones, a home page):
 * each keeps its name and type, and its value, title and url are masked.
 */
function maskExtAttrs(attrs: unknown): unknown {
  if (!Array.isArray(attrs)) return attrs;
  return attrs.map((attr: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(attr).map(([k, v]) => [k, k !== 'name' && k !== 'type' && typeof v === 'string' ? maskValue(v) : v])),
  );
}

function mask<T>(record: T): T {
  if (!record || typeof record !== 'object') return record;
  const copy: Record<string, unknown> = { ...(record as Record<string, unknown>) };
  for (const name of PERSONAL_FIELDS) if (typeof copy[name] === 'string') copy[name] = maskValue(copy[name] as string);
  if ('extAttrs' in copy) copy.extAttrs = maskExtAttrs(copy.extAttrs);
  return copy as T;
}

/** A change as an API answer: personal data masked in before/after, and `raw` (WeCom's own fields) dropped. */
function maskChange(change: ContactChangeRecord): Omit<ContactChangeRecord, 'raw'> {
  const { raw: _raw, ...rest } = change;
  return { ...rest, before: mask(change.before), after: mask(change.after) };
}

const MAX_STREAM_PART = 2n ** 64n - 1n;
const LAST_STREAM_ID = `${MAX_STREAM_PART}-${MAX_STREAM_PART}`;

/**
 * `?since=`: a cursor from a previous answer (a Redis stream id, each part at
 * most 2^64-1: Redis refuses larger ones) or an ISO time; anything else is a 400.
 */
function feedCursor(since: string): string {
  const id = /^(\d{1,20})(?:-(\d{1,20}))?$/.exec(since);
  if (id && BigInt(id[1]) <= MAX_STREAM_PART && BigInt(id[2] ?? 0) <= MAX_STREAM_PART) return since;
  const ms = id ? NaN : Date.parse(since);
  if (Number.isNaN(ms))
    throw new ApiError(400, 'invalid_request', 'since must be a cursor from a previous answer or an ISO time', [
      { field: 'query.since', message: 'cursor or ISO 8601 time' },
    ]);
  return `${Math.max(0, ms - 1)}-${MAX_STREAM_PART}`;
}

/**
 * The mirror and its feed. Personal fields (mobile, email, address…, extAttrs' values) are masked unless the caller's key is
 * one of CONTACTS_PII_KEYS ('*' = every caller that passed authentication).
 */
export function contactRoutes(directory: Directory, dispatcher: SyncDispatcher | undefined, piiKeys: string[]): Route[] {
  const maySeePii = (req: Request) => {
    if (piiKeys.includes('*')) return true;
    const key = presentedKey(req);
    return key !== undefined && piiKeys.includes(key);
  };
  const requireDispatcher = () => {
    if (!dispatcher) throw new ApiError(404, 'not_configured', 'no contact sync sink is configured (CONTACT_SYNC_WEBHOOK_URL)');
    return dispatcher;
  };
  const sinkParam = (req: Request) => {
    const sink = queryParam(req, 'sink');
    if (sink !== undefined && !requireDispatcher().hasSink(sink)) throw new ApiError(404, 'unknown_sink', `no sink named ${sink}`);
    return sink;
  };
  return [
    {
      method: 'get',
      path: '/v1/contacts/users/{userId}',
      auth: 'read',
      handler: async (req, res) => {
        const user = await directory.user(String(req.params.userId));
        if (!user) throw new ApiError(404, 'not_found', `no user ${String(req.params.userId)} in the mirror`);
        res.json(maySeePii(req) ? user : mask<ContactUser>(user));
      },
    },
    {
      method: 'get',
      path: '/v1/contacts/departments',
      auth: 'read',
      handler: async (_req, res) => {
        res.json({ departments: await directory.departments() });
      },
    },
    {
      method: 'get',
      path: '/v1/contacts/changes',
      auth: 'read',
      handler: async (req, res) => {
        const since = queryParam(req, 'since') || '0';
        const cursor = feedCursor(since);
        const limit = limitParam(req);
        // Nothing comes after the last id a stream can hold (and Redis refuses to look).
        const entries = cursor === LAST_STREAM_ID ? [] : await directory.changesAfter(cursor, limit);
        const pii = maySeePii(req);
        res.json({
          changes: entries.map((e) => ({ cursor: e.cursor, ...(pii ? e.change : maskChange(e.change)) })),
          next: entries.at(-1)?.cursor ?? since,
        });
      },
    },
    {
      method: 'get',
      path: '/v1/contacts/dead-letters',
      auth: 'admin',
      handler: async (req, res) => {
        const letters = await requireDispatcher().deadLetters(sinkParam(req));
        res.json({ deadLetters: maySeePii(req) ? letters : letters.map((l) => ({ ...l, change: maskChange(l.change) })) });
      },
    },
    {
      method: 'post',
      path: '/v1/contacts/dead-letters/replay',
      auth: 'admin',
      handler: async (req, res) => {
        res.json({ replayed: await requireDispatcher().replay(sinkParam(req)) });
      },
    },
    {
      method: 'post',
      path: '/v1/contacts/dead-letters/{id}/replay',
      auth: 'admin',
      handler: async (req, res) => {
        const replayed = await requireDispatcher().replayOne(String(req.params.id), sinkParam(req));
        if (replayed === 0) throw new ApiError(404, 'not_found', `no dead letter for change ${String(req.params.id)}`);
        res.json({ replayed });
      },
    },
  ];
}
