import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { CallbackCrypto } from './crypto';
import { parseCallbackXml } from './xml';

/**
 * A push as WeCom sends it to an app's callback URL: the event XML (reference
 * §7), encrypted and signed (§5.2), in the envelope of §5.4. The simulator
 * delivers its pushes with it; tests build theirs with it.
 */
export interface EncryptedPush {
  /** msg_signature, timestamp and nonce, for the callback URL's query. */
  query: string;
  body: string;
  encrypt: string;
  signature: string;
  timestamp: string;
  nonce: string;
}

/** Where an app's pushes go, with the keys that app set in WeCom's console (§5.1). */
export interface CallbackTarget {
  url: string;
  token: string;
  aesKey: string;
  corpId: string;
  /** The id the plaintext ends with (§5.2): the corp id unless said otherwise. */
  receiveId?: string;
  agentId?: number;
}

/**
 * A WeCom push as WeCom would send it: encrypted, signed, in the XML envelope (reference §5.4).
 * WeCom's side: its timestamp is WeCom's wall clock, which the gateway's skew check compares with its own.
 */
export function encryptedPush(
  crypto: CallbackCrypto,
  corpId: string,
  plaintextXml: string,
  timestamp = String(Math.floor(Date.now() / 1000)),
  agentId: number | string = 1000002,
): EncryptedPush {
  const nonce = String(randomBytes(4).readUInt32BE());
  const encrypt = crypto.encrypt(plaintextXml);
  const signature = crypto.signature(timestamp, nonce, encrypt);
  return {
    query: `msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`,
    body:
      `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt>` +
      `<AgentID><![CDATA[${agentId}]]></AgentID></xml>`,
    encrypt,
    signature,
    timestamp,
    nonce,
  };
}

/** A value inside CDATA: a `]]>` in it would end the section early, so it is split across two. */
const cdata = (value: string) => `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

/** The event XML of reference §7, with the fields given (numbers bare, as CreateTime is). */
export function eventXml(fields: Record<string, string>): string {
  const inner = Object.entries(fields)
    .map(([name, value]) => `<${name}>${/^\d+$/.test(value) ? value : cdata(value)}</${name}>`)
    .join('');
  return `<xml>${inner}</xml>`;
}

/** The fields every event push opens with (§7): to the corp, from a member (or `sys`), at a time, MsgType event. */
export function eventFields(corpId: string, from: string, event: string, at = Date.now()): Record<string, string> {
  return { ToUserName: corpId, FromUserName: from, CreateTime: String(Math.floor(at / 1000)), MsgType: 'event', Event: event };
}

/** WeCom gives up on a push after 5 s without an answer (§5.4). */
const PUSH_TIMEOUT_MS = 5_000;

const cryptoFor = (target: CallbackTarget) =>
  new CallbackCrypto({ token: target.token, encodingAesKey: target.aesKey, receiveId: target.receiveId ?? target.corpId });

/** POSTs the event to the target as WeCom would; answers the HTTP status and the body (a passive reply, or why it was refused). */
export async function deliverPush(target: CallbackTarget, plaintextXml: string): Promise<{ status: number; body: string }> {
  const push = encryptedPush(cryptoFor(target), target.corpId, plaintextXml, undefined, target.agentId ?? '');
  const separator = target.url.includes('?') ? '&' : '?';
  const res = await request(`${target.url}${separator}${push.query}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: push.body,
    headersTimeout: PUSH_TIMEOUT_MS,
    bodyTimeout: PUSH_TIMEOUT_MS,
  });
  return { status: res.statusCode, body: await res.body.text() };
}

/** What the member is shown of a passive reply (§5.5); a reply WeCom could not read shows nothing. */
export type PassiveReply = { msgType: string; content?: string } | { unreadable: string };

/**
 * WeCom's side of a passive reply: an empty answer is no reply; otherwise the
 * envelope must be signed with the app's Token over its own TimeStamp and Nonce
 * and decrypt with the app's key and corp id, as the reply is checked in §5.5.
 */
export function readPassiveReply(target: CallbackTarget, body: string): PassiveReply | null {
  if (body.trim() === '') return null;
  try {
    const envelope = parseCallbackXml(body);
    const text = (name: string) => (typeof envelope[name] === 'string' ? (envelope[name] as string) : '');
    const plaintext = cryptoFor(target).verifyAndDecrypt({
      msgSignature: text('MsgSignature'),
      timestamp: text('TimeStamp'),
      nonce: text('Nonce'),
      encrypted: text('Encrypt'),
    });
    const reply = parseCallbackXml(plaintext);
    return { msgType: String(reply.MsgType ?? ''), ...(typeof reply.Content === 'string' ? { content: reply.Content } : {}) };
  } catch (error) {
    return { unreadable: (error as Error).message };
  }
}
