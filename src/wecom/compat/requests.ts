import { z } from 'zod';
import { CompatErrcode, CompatError } from './answers';
import { checkBody, requireMsgtype, type CompatDestination } from './body-limits';
import { EVERYONE, type MemberLists } from '../recipients';

/**
 * WeCom request bodies read into the neutral shapes the gateway's flows take
 * (reference §2, §13, §14). Fields WeCom has and the gateway does not use, and
 * fields WeCom would ignore, are tolerated: Alertmanager sends `"text":{"content":""}`
 * beside its markdown, Grafana sends `safe` and `enable_id_trans`.
 */

/** A message as WeCom takes it under `msgtype`, already checked against WeCom's limits. */
export interface CompatMessage {
  msgtype: string;
  body: Record<string, unknown>;
}

/** message/send: to whom, through which agentid, and whether WeCom's duplicate check was asked for (its window, seconds). */
export interface CompatAppSend extends CompatMessage {
  agentId: number;
  to: typeof EVERYONE | MemberLists;
  duplicateCheckSeconds?: number;
}

/** WeCom's default and longest duplicate-check window (§2.1). */
const DUPLICATE_CHECK = { defaultSeconds: 1_800, maxSeconds: 14_400 } as const;

const idOrIds = z.union([z.string(), z.number()]).optional();
const flag = z.union([z.number(), z.string(), z.boolean()]).optional();

const messageSendSchema = z.looseObject({
  touser: z.string().optional(),
  toparty: idOrIds,
  totag: idOrIds,
  msgtype: z.unknown(),
  agentid: z.union([z.number(), z.string()]).optional(),
  enable_duplicate_check: flag,
  duplicate_check_interval: z.union([z.number(), z.string()]).optional(),
});

/** A body that is not the JSON object WeCom expects: 40058 naming the field, as WeCom's "invalid parameter". */
function parsed<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.join('.') || '(body)';
  throw new CompatError(CompatErrcode.invalidParameter, `invalid parameter: ${field}: ${issue.message}`);
}

/** `a|b|c` as a list, empty entries dropped (WeCom splits the same way). */
const split = (ids: string | number | undefined) =>
  String(ids ?? '')
    .split('|')
    .map((id) => id.trim())
    .filter(Boolean);

const yes = (value: unknown) => value === 1 || value === '1' || value === true;

/** The message under its msgtype, checked for where it goes. */
function messageOf(destination: CompatDestination, raw: Record<string, unknown>): CompatMessage {
  const msgtype = requireMsgtype(destination, raw.msgtype);
  return { msgtype, body: checkBody(destination, msgtype, raw[msgtype]) };
}

/** A message/send body (§2.1): errcodes as WeCom answers them (41011, 40056, 82001, 40008, 44004, 45002...). */
export function readAppSend(body: unknown): CompatAppSend {
  const raw = parsed(messageSendSchema, body);
  if (raw.agentid === undefined || raw.agentid === '') throw new CompatError(CompatErrcode.missingAgentId, 'missing agentid');
  const agentId = Number(raw.agentid);
  if (!Number.isInteger(agentId) || agentId <= 0) throw new CompatError(CompatErrcode.invalidAgentId, `invalid agentid ${raw.agentid}`);
  const users = split(raw.touser);
  const parties = split(raw.toparty);
  const tags = split(raw.totag);
  if (users.length + parties.length + tags.length === 0)
    throw new CompatError(CompatErrcode.emptyRecipients, 'touser, toparty and totag are all empty');
  // "@all" in touser is everyone in the app's range, whatever else is named (§2.1).
  const to = users.some((u) => u.toLowerCase() === EVERYONE)
    ? EVERYONE
    : { ...(users.length ? { users } : {}), ...(parties.length ? { parties } : {}), ...(tags.length ? { tags } : {}) };
  const interval = Number(raw.duplicate_check_interval ?? DUPLICATE_CHECK.defaultSeconds) || DUPLICATE_CHECK.defaultSeconds;
  return {
    agentId,
    to,
    ...messageOf('app', raw),
    ...(yes(raw.enable_duplicate_check)
      ? { duplicateCheckSeconds: Math.min(DUPLICATE_CHECK.maxSeconds, Math.max(1, Math.floor(interval))) }
      : {}),
  };
}

const chatSendSchema = z.looseObject({ chatid: z.string({ error: 'chatid is required' }).min(1), msgtype: z.unknown() });

/** An appchat/send body (§14): the chat and its message. */
export function readChatSend(body: unknown): CompatMessage & { chatId: string } {
  const raw = parsed(chatSendSchema, body);
  return { chatId: raw.chatid, ...messageOf('chat', raw) };
}

/** A robot message and the userids it @-mentions, "@all" by either list (§13 takes it among mobiles too). */
export interface CompatRobotSend extends CompatMessage {
  mentions: { users: string[] };
}

const ids = (list: unknown) => (Array.isArray(list) ? list.map(String) : []);

/** A webhook/send body (§13): the message, and who it @-mentions, so a key's scope is checked as /v1's `mentions.users`. */
export function readRobotSend(body: unknown): CompatRobotSend {
  const message = messageOf('robot', parsed(z.looseObject({ msgtype: z.unknown() }), body));
  const mobiles = ids(message.body.mentioned_mobile_list).filter((m) => m.toLowerCase() === EVERYONE);
  return { ...message, mentions: { users: [...ids(message.body.mentioned_list), ...mobiles] } };
}

/** A message/recall body (§2.4): the msgid the gateway answered. */
export function readRecall(body: unknown): string {
  return parsed(z.looseObject({ msgid: z.string({ error: 'msgid is required' }).min(1).max(128) }), body).msgid;
}

/** A JSON body as WeCom reads it: anything that is not a JSON object is 40058, with WeCom's "wrong json format" words. */
export function readJson(text: string | undefined): unknown {
  try {
    const value: unknown = JSON.parse(text ?? '');
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } catch {
    // answered below
  }
  throw new CompatError(CompatErrcode.invalidParameter, 'invalid parameter: Warning: wrong json format. the body must be a JSON object');
}
