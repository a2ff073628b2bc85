import { createHash } from 'node:crypto';

/**
 * A decrypted callback (reference §7): the children of <xml>, every leaf a
 * string exactly as WeCom sent it (MsgId is a 64-bit integer: never a JS number).
 */
export interface CallbackEvent {
  /** The configured app the push arrived for. */
  app: string;
  /** When the gateway received it (ms). */
  receivedAt: number;
  /** Process-once key: MsgId for user messages, else a hash of the whole event. */
  dedupeKey: string;
  fields: Record<string, unknown>;
}

export function field(event: CallbackEvent, name: string): string | undefined {
  const value = event.fields[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * WeCom re-sends a push it got no answer to within 5 s (up to 3 more times, §5.4):
 * the same MsgId for messages; events have none, so the whole plaintext (which
 * carries Event, ChangeType, ids and CreateTime) identifies them.
 */
export function dedupeKeyFor(app: string, fields: Record<string, unknown>, plaintext: string): string {
  const msgId = fields.MsgId;
  if (typeof msgId === 'string' && msgId !== '') return `${app}_msg_${msgId}`;
  return `${app}_evt_${createHash('sha256').update(plaintext).digest('hex').slice(0, 32)}`;
}

/** A short description for logs: never the content of a message. */
export function describe(event: CallbackEvent): Record<string, string | undefined> {
  return {
    app: event.app,
    msgType: field(event, 'MsgType'),
    event: field(event, 'Event'),
    changeType: field(event, 'ChangeType'),
    dedupeKey: event.dedupeKey,
  };
}
