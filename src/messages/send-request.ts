import { createHash } from 'node:crypto';
import { z } from 'zod';
import { requireAppInScope, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import { findApp } from '../wecom/app';
import { RECIPIENT_LIMITS } from '../wecom/limits';
import { mayUseChat, type ChatDirectory } from '../chats/chat-directory';
import type { MessagesSettings } from './messages-config';
import { mentionsSchema } from './mentions';
import { recipientsSchema, type Recipients } from './recipients';
import { MSGTYPES } from './templates';

/** The body field and the header alike. */
const MAX_IDEMPOTENCY_KEY = 256;

/** What a send request looks like, for the messages that tell a caller how to write one. */
const SEND_EXAMPLE = '{"event":"program.alert","to":{"users":["zhangsan"]},"data":{…}}';

const eventSchema = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? 'required — the event key, e.g. "program.alert" (GET /v1/events lists them)'
        : 'expected the event key as a string, e.g. "program.alert"',
  })
  .min(1)
  .max(128);

const dataSchema = z
  .record(z.string(), z.unknown(), {
    error: 'expected an object of the template\'s data, e.g. {"title":"Disk 95%"} (GET /v1/events lists each event\'s data)',
  })
  .default({});

export const sendRequestSchema = z
  .object(
    {
      event: eventSchema,
      msgtype: z.enum(MSGTYPES).optional(),
      to: recipientsSchema,
      /** Who robot and chat messages @-mention; overrides the event's own. */
      mentions: mentionsSchema.optional(),
      data: dataSchema,
      app: z.string().min(1).max(64).optional(),
      idempotencyKey: z.string().min(1).max(MAX_IDEMPOTENCY_KEY).optional(),
      priority: z.enum(['high', 'normal', 'bulk']).optional(),
      /** The final status (sent/failed) is POSTed here, signed, with retries. */
      callbackUrl: z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
        .max(2048)
        .optional(),
      /** false: never merged with other waiting messages to the same recipients (coalesce.ts). */
      coalesce: z.boolean().optional(),
    },
    { error: (issue) => `${issue.input === undefined ? 'required — a JSON object' : 'expected a JSON object'}, e.g. ${SEND_EXAMPLE}` },
  )
  .strict();

export type SendRequest = z.infer<typeof sendRequestSchema>;

/**
 * Deeper than this, data is refused: templates read a few levels, while hashing and
 * rendering recurse (5,000 levels overflow the stack).
 */
const MAX_DATA_DEPTH = 32;

/** 422 naming the data field nested too deep; measured level by level, without recursion, so any depth is measured safely. */
function refuseDeepData(data: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(data)) {
    let level: unknown[] = [value];
    for (let depth = 0; level.length > 0; depth++) {
      if (depth > MAX_DATA_DEPTH) {
        const message = `nested deeper than ${MAX_DATA_DEPTH} levels`;
        throw new ApiError(422, 'cannot_render', `data.${field}: ${message}`, [{ field: `data.${field}`, message }]);
      }
      level = level.flatMap((v) => (v !== null && typeof v === 'object' ? Object.values(v) : []));
    }
  }
}

/** A request body (and its Idempotency-Key header) as a SendRequest, or a 400/422 naming each field that is wrong. */
export function parseSendRequest(body: unknown, idempotencyHeader?: string): SendRequest {
  const parsed = sendRequestSchema.safeParse(body);
  if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
  refuseDeepData(parsed.data.data);
  if (idempotencyHeader !== undefined && idempotencyHeader.length > MAX_IDEMPOTENCY_KEY) {
    throw new ApiError(400, 'invalid_request', 'invalid Idempotency-Key', [
      { field: 'Idempotency-Key', message: `at most ${MAX_IDEMPOTENCY_KEY} characters` },
    ]);
  }
  return { ...parsed.data, idempotencyKey: parsed.data.idempotencyKey ?? idempotencyHeader };
}

/** JSON with every object's keys in order: one text for one request, however its keys were ordered or spaced. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What "the same request" means for an idempotency key: the request as parsed (so
 * `2` and `"2"` for a party, an absent `data` and `{}`, are the same), in canonical
 * JSON, without the key itself (header or body alike). Arrays keep their order.
 */
export function requestHash(request: SendRequest): string {
  const { idempotencyKey: _key, ...rest } = request;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

const unique = (list: string[] | undefined) => [...new Set(list ?? [])];

/** The robots and chats a request names, each once. */
export function groupsOf(to: Recipients): { robots: string[]; chats: string[] } {
  return to === '@all' ? { robots: [], chats: [] } : { robots: unique(to.robots), chats: unique(to.chats) };
}

/**
 * Departments and tags that reach everyone, as "@all" does: the root department
 * (1, the whole corp) and more departments and tags than one message/send takes
 * (100, reference §2.1), which only a message to everyone needs. The first such field.
 */
function everyoneByGroups(to: { parties?: string[]; tags?: string[] }): { field: string; what: string } | undefined {
  const parties = to.parties ?? [];
  const root = parties.findIndex((id) => /^0*1$/.test(id));
  if (root >= 0) return { field: `to.parties.${root}`, what: 'to the root department 1 (everyone)' };
  const groups = [...parties.map((_, i) => `to.parties.${i}`), ...(to.tags ?? []).map((_, i) => `to.tags.${i}`)];
  const most = RECIPIENT_LIMITS.parties;
  return groups.length > most
    ? { field: groups[most], what: `to more than ${most} departments and tags (as good as everyone)` }
    : undefined;
}

/**
 * A key the config file restricts may send only within its scope: 403 naming the
 * first field outside it. Checked before the event or app is looked up, so a
 * restricted key learns nothing about what lies outside its scope.
 */
export function authorize(request: SendRequest, caller: Caller | undefined, defaultApp: string): void {
  const scope = caller?.scope;
  if (!scope) return;
  const refuse = (field: string, what: string) => {
    const message = `this key may not send ${what}`;
    throw new ApiError(403, 'forbidden', message, [{ field, message }]);
  };
  requireAppInScope(caller, request.app ?? defaultApp);
  if (scope.events && !scope.events.includes(request.event)) refuse('event', `event ${request.event}`);
  // "high" goes before every other part: the operator's templates (alerts) and keys given highPriority may ask for it.
  if (request.priority === 'high' && !scope.highPriority)
    refuse('priority', 'priority "high" (leave it out: the event\'s own priority applies)');
  if (!scope.allowAll) {
    // WeCom reads "@all" in touser as everyone, inside a list too; in a mention it calls the whole group.
    const everyone = (id: string) => id.toLowerCase() === '@all';
    if (request.to === '@all') refuse('to', 'to "@all"');
    const user = request.to === '@all' ? -1 : (request.to.users ?? []).findIndex(everyone);
    if (user >= 0) refuse(`to.users.${user}`, 'to "@all"');
    const mention = (request.mentions?.users ?? []).findIndex(everyone);
    if (mention >= 0) refuse(`mentions.users.${mention}`, 'a mention of "@all"');
    const wide = request.to === '@all' ? undefined : everyoneByGroups(request.to);
    if (wide) refuse(wide.field, wide.what);
  }
  const robots = scope.robots;
  if (robots && request.to !== '@all') {
    const outside = (request.to.robots ?? []).findIndex((name) => !robots.includes(name));
    if (outside >= 0) refuse(`to.robots.${outside}`, `to robot ${request.to.robots![outside]}`);
  }
}

/** What deciding who may send to a chat reads: the apps, and the chats registered with each. */
export interface ChatAccess {
  config: Pick<MessagesSettings, 'apps' | 'defaultApp'>;
  /** The app group chats each app may send to, and who owns each; absent = no chats. */
  chats?: ChatDirectory;
}

/**
 * Only chats registered through the gateway can be sent to (WeCom takes only chats
 * the app created, reference §14), each by the key that owns it, an admin, or a key
 * whose scope lists it; a chat the operator's configuration names for this send (an
 * alert route's) by any key posting it. The gateway's own messages (no caller) reach
 * any registered chat. The alert webhooks check before storm control.
 */
export async function authorizeChats(
  request: SendRequest,
  caller: Caller | undefined,
  access: ChatAccess,
  configuredChats: string[] = [],
): Promise<void> {
  if (request.to === '@all') return;
  const named = request.to.chats ?? [];
  const { chats } = groupsOf(request.to);
  if (chats.length === 0) return;
  const app = findApp(access.config, request.app)?.name ?? request.app ?? access.config.defaultApp;
  const registered = access.chats ? await access.chats.many(app, chats) : chats.map(() => undefined);
  const missing = chats.filter((_, i) => !registered[i]);
  if (missing.length > 0) {
    throw new ApiError(
      404,
      'unknown_chat',
      `unknown chat ${missing.join(', ')}: create it with POST /v1/chats, ` +
        'or register a chat the app made elsewhere with PUT /v1/chats/{chatid}',
      missing.map((chat) => ({ field: `to.chats.${named.indexOf(chat)}`, message: `app ${app} knows no chat ${chat}` })),
    );
  }
  if (!caller) return;
  const refused = registered.find((chat) => !configuredChats.includes(chat!.chatid) && !mayUseChat(chat!, caller));
  if (!refused) return;
  const message =
    `chat ${refused.chatid} belongs to another key: ` + 'its owner, an admin, or a key whose scope lists it (chats:) may send to it';
  throw new ApiError(403, 'forbidden', message, [{ field: `to.chats.${named.indexOf(refused.chatid)}`, message }]);
}
