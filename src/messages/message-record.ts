import { LOCAL_CALLER } from '../http/auth';

/**
 * A message as the store keeps it and as callers read it back: the record (what
 * was asked), each part's state (one per send call), the attempts the console
 * shows, and the one status the parts fold into.
 */

/** The recipients summary a record keeps: enough to find a message by a member, not a 10,000-name list. */
const RECIPIENTS_KEPT = 512;

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
  /** Sent within another part's message (coalesced while both waited for the same budget): that part. */
  coalescedInto?: { messageId: string; part: number };
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
  /** The caller opted out of coalescing: its parts are never merged with others. */
  coalesce?: false;
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
  deliveries?: { to: string; status: PartStatus; error?: PartState['error']; coalescedInto?: PartState['coalescedInto'] }[];
  /** Parts another message carried (coalesced): each with the message and part whose send took it. */
  coalesced?: { part: number; coalescedInto: { messageId: string; part: number } }[];
  /** Present (false) when the caller opted out of coalescing. */
  coalesce?: false;
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
  /** Sent within this part's message (coalesced). */
  coalescedInto?: { messageId: string; part: number };
}

const RECIPIENT_KINDS = ['users', 'parties', 'tags', 'oncall', 'robots', 'chats'] as const;
type RecipientKind = (typeof RECIPIENT_KINDS)[number];

/** `users a|b; parties 2; oncall sre; robots ops` or `@all`, cut to what a record keeps. */
export function recipientsSummary(to: '@all' | Partial<Record<RecipientKind, string[]>>): string {
  if (to === '@all') return '@all';
  const summary = RECIPIENT_KINDS.filter((kind) => (to[kind]?.length ?? 0) > 0)
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
  return {
    deliveries: parts.map((p, i) => ({
      to: named[i] ?? 'members',
      status: p.status,
      ...(p.error ? { error: p.error } : {}),
      ...(p.coalescedInto ? { coalescedInto: p.coalescedInto } : {}),
    })),
  };
}

/** The parts another message carried, each naming its carrier. */
function coalescedOf(parts: PartState[]): Pick<MessageView, 'coalesced'> {
  const carried = parts.flatMap((p, part) => (p.coalescedInto ? [{ part, coalescedInto: p.coalescedInto }] : []));
  return carried.length > 0 ? { coalesced: carried } : {};
}

/** What GET /v1/messages/{id} answers for a record (the Redis hash, fields as text) and its parts; undefined: no record. */
export function messageView(record: Record<string, string>, parts: PartState[]): MessageView | undefined {
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
    ...coalescedOf(parts),
    ...(record.coalesce === 'false' ? { coalesce: false as const } : {}),
    ...(record.recipients ? { recipients: record.recipients } : {}),
    createdAt: new Date(Number(record.createdAt)).toISOString(),
    updatedAt: new Date(Math.max(Number(record.createdAt), ...parts.map((p) => p.updatedAt))).toISOString(),
  };
}
