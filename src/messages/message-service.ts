import { createHash, randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { GATEWAY_CALLER_ID, LOCAL_CALLER, requireAppInScope, type Caller } from '../http/auth';
import { ApiError, RetryLaterError, UnavailableError } from '../http/errors';
import { RedisUnavailableError } from '../redis/unavailable';
import { childrenOf, type Metrics } from '../ops/metrics';
import { findApp, type WecomApp } from '../wecom/app';
import { chatPayload, robotPayload, toChatMessages, toRobotMessages } from '../wecom/chat-message';
import type { ChatMessage } from '../wecom/group-chat';
import { buildSendPayload } from '../wecom/message-payload';
import { applyMessageLimits, MessageLimitError, RECIPIENT_LIMITS } from '../wecom/limits';
import type { RecipientCap } from '../budgets/recipient-cap';
import type { RobotLine } from '../budgets/robot-line';
import type { SendShare } from '../budgets/send-share';
import { mayUseChat, type ChatDirectory } from '../chats/chat-directory';
import type { EgressPolicy } from '../http/egress';
import { hasMediaSource, type MediaSource } from './media';
import { mentionsSchema } from './mentions';
import type { MessagesSettings } from './messages-config';
import { foldStatus, recipientsSummary, type MessageStatus, type MessageStore } from './message-store';
import { membersOf, recipientsSchema, splitReaders, splitRecipients, type Recipients } from './recipients';
import type { SendRecipients } from '../wecom/message-payload';
import { destinationOf, enqueueParts, sendIdOf, type GroupTarget, type SendJobData } from './send-queue';
import { MEDIA_MSGTYPES, MSGTYPES, RenderError, type EventTemplate, type Msgtype } from './templates';

/** The body field and the header alike. */
const MAX_IDEMPOTENCY_KEY = 256;

/** What a send request looks like, for the messages that tell a caller how to write one. */
const SEND_EXAMPLE = '{"event":"program.alert","to":{"users":["zhangsan"]},"data":{…}}';

export const sendRequestSchema = z
  .object(
    {
      event: z.string({ error: (issue) => (issue.input === undefined ? 'required — the event key, e.g. "program.alert" (GET /v1/events lists them)' : 'expected the event key as a string, e.g. "program.alert"') }).min(1).max(128),
      msgtype: z.enum(MSGTYPES).optional(),
      to: recipientsSchema,
      /** Who robot and chat messages @-mention; overrides the event's own. */
      mentions: mentionsSchema.optional(),
      data: z.record(z.string(), z.unknown(), { error: 'expected an object of the template\'s data, e.g. {"title":"Disk 95%"} (GET /v1/events lists each event\'s data)' }).default({}),
      app: z.string().min(1).max(64).optional(),
      idempotencyKey: z.string().min(1).max(MAX_IDEMPOTENCY_KEY).optional(),
      priority: z.enum(['high', 'normal', 'bulk']).optional(),
      /** The final status (sent/failed) is POSTed here, signed, with retries. */
      callbackUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048).optional(),
    },
    { error: (issue) => `${issue.input === undefined ? 'required — a JSON object' : 'expected a JSON object'}, e.g. ${SEND_EXAMPLE}` },
  )
  .strict();

export type SendRequest = z.infer<typeof sendRequestSchema>;

/** A request rendered and split, ready to persist (or to show, for a preview). */
interface PreparedMessage {
  template: EventTemplate;
  app: WecomApp;
  msgtype: Msgtype;
  body: Record<string, unknown>;
  /**
   * One message/send call each for members, with its own type and body (WeChat-plugin
   * readers get text); one part per robot and per chat, with its messages in order.
   */
  parts: PreparedPart[];
}

export type PreparedPart = { msgtype: string } & ({ to: SendRecipients; body: Record<string, unknown> } | { group: GroupTarget; messages: ChatMessage[] });

/**
 * The exact bodies one part goes as: its message/send, or its group's webhook/send
 * or appchat/send bodies in order (a preview's parts and a queued job's alike).
 */
export function partPayloads(part: PreparedPart, options: { agentId: number; duplicateCheckSeconds: number; sendId: string }): Record<string, unknown>[] {
  if ('to' in part) return [buildSendPayload(part.msgtype, part.body, part.to, options)];
  const group = part.group;
  return 'robot' in group ? part.messages.map(robotPayload) : part.messages.map((m) => chatPayload(group.chat, m));
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

/** The URL a media message's file is downloaded from: none when its content is given (base64 wins, as in MediaResolver). */
const fetchedUrl = (media: MediaSource | undefined) => (media?.base64 ? undefined : media?.url);

const unique = (list: string[] | undefined) => [...new Set(list ?? [])];

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
  return groups.length > most ? { field: groups[most], what: `to more than ${most} departments and tags (as good as everyone)` } : undefined;
}

export interface MessageServiceDeps {
  config: Pick<MessagesSettings, 'apps' | 'defaultApp' | 'send' | 'wechatReaders' | 'robots'>;
  /** The app group chats each app may send to, and who owns each; absent = no chats. */
  chats?: ChatDirectory;
  /** Distinct users each key may name an hour; absent = no cap. */
  recipientCap?: Pick<RecipientCap, 'name'>;
  /** Each key's share of the send queue: parts beyond it wait behind other keys'; absent = no share. */
  share?: Pick<SendShare, 'take'>;
  /** The robots' lines: a robot's parts go in the order they were accepted. */
  robotLines?: Pick<RobotLine, 'join' | 'leave'>;
  templates: Map<string, EventTemplate>;
  store: MessageStore;
  queue: Queue<SendJobData>;
  metrics: Metrics;
  /** How long accepting may take before the caller gets a 503 instead of a hang. */
  storeTimeoutMs?: number;
  /** What a caller's URLs may reach (checked again, resolved, at connect time). */
  egress?: Pick<EgressPolicy, 'refusal'>;
  /** Resolves once Redis replicas hold what was written (Core.replicated); absent = the master's word is enough. */
  replicated?: () => Promise<void>;
}

/** Deeper than this, data is refused: templates read a few levels, while hashing and rendering recurse (5,000 levels overflow the stack). */
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      // A step over Redis that does not end in time is Redis not answering (each command has its own deadline too).
      timer = setTimeout(() => reject(new RedisUnavailableError(new Error(`no answer within ${ms} ms`))), ms);
    }),
  ]);
}

/** Accepting a message: validate, render, persist, enqueue, answer. */
export class MessageService {
  private readonly accepted: (labels: { event: string; msgtype: string }) => { inc(): void };

  constructor(private readonly deps: MessageServiceDeps) {
    this.accepted = childrenOf(deps.metrics.messagesAccepted);
  }

  parse(body: unknown, idempotencyHeader?: string): SendRequest {
    const parsed = sendRequestSchema.safeParse(body);
    if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
    refuseDeepData(parsed.data.data);
    if (idempotencyHeader !== undefined && idempotencyHeader.length > MAX_IDEMPOTENCY_KEY) {
      throw new ApiError(400, 'invalid_request', 'invalid Idempotency-Key', [{ field: 'Idempotency-Key', message: `at most ${MAX_IDEMPOTENCY_KEY} characters` }]);
    }
    return { ...parsed.data, idempotencyKey: parsed.data.idempotencyKey ?? idempotencyHeader };
  }

  /**
   * A key the config file restricts may send only within its scope: 403 naming the
   * first field outside it. Checked before the event or app is looked up, so a
   * restricted key learns nothing about what lies outside its scope.
   */
  authorize(request: SendRequest, caller: Caller | undefined): void {
    const scope = caller?.scope;
    if (!scope) return;
    const refuse = (field: string, what: string) => {
      const message = `this key may not send ${what}`;
      throw new ApiError(403, 'forbidden', message, [{ field, message }]);
    };
    requireAppInScope(caller, request.app ?? this.deps.config.defaultApp);
    if (scope.events && !scope.events.includes(request.event)) refuse('event', `event ${request.event}`);
    // "high" goes before every other part: the operator's templates (alerts) and keys given highPriority may ask for it.
    if (request.priority === 'high' && !scope.highPriority) refuse('priority', 'priority "high" (leave it out: the event\'s own priority applies)');
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

  prepare(request: SendRequest): PreparedMessage {
    const template = this.deps.templates.get(request.event);
    if (!template) throw new ApiError(404, 'unknown_event', `unknown event ${request.event} (GET /v1/events lists them)`);
    const app = findApp(this.deps.config, request.app);
    if (!app) throw new ApiError(404, 'unknown_app', `unknown app ${request.app ?? this.deps.config.defaultApp}`);
    const msgtype = request.msgtype ?? template.defaultMsgtype;
    if (!template.msgtypes.includes(msgtype)) {
      throw new ApiError(400, 'invalid_request', `event ${template.event} cannot be sent as ${msgtype}`, [
        { field: 'msgtype', message: `one of ${template.msgtypes.join(', ')}` },
      ]);
    }
    const members = membersOf(request.to);
    const groups = request.to === '@all' ? { robots: [], chats: [] } : { robots: unique(request.to.robots), chats: unique(request.to.chats) };
    this.checkRobots(groups.robots);
    if (members && msgtype === 'markdown_v2') {
      throw new ApiError(400, 'invalid_request', 'markdown_v2 reaches group robots only', [{ field: 'msgtype', message: 'markdown_v2 is for to.robots; members take markdown' }]);
    }
    const raw = this.render(template, msgtype, request.data, { raw: true });
    if (MEDIA_MSGTYPES.has(msgtype) && !hasMediaSource(raw) && !raw.media_id) {
      throw new ApiError(422, 'cannot_render', `a ${msgtype} message needs a file: give a URL or base64 content`, [{ field: 'data', message: 'no media url, base64 or media_id' }]);
    }
    this.checkEgress([
      ['callbackUrl', request.callbackUrl],
      ['data', fetchedUrl(raw.media as MediaSource | undefined)],
    ]);
    // Rendered once: members get the body within WeCom's app limits, robots and chats convert the raw one.
    const body = members ? this.limited(() => applyMessageLimits(msgtype, raw)) : raw;
    const parts: PreparedPart[] = members ? this.memberParts(template, msgtype, body, members, request.data) : [];
    const mentions = request.mentions ?? template.mentions;
    if (groups.robots.length > 0) {
      // A robot has no textcard: the event's own markdown form is closer to what its author meant than a converted card.
      const [robotType, robotBody] = msgtype === 'textcard' && template.msgtypes.includes('markdown') ? ['markdown', this.render(template, 'markdown', request.data, { raw: true })] : [msgtype, raw];
      const messages = this.limited(() => toRobotMessages(robotType, robotBody, mentions));
      parts.push(...groups.robots.map((robot) => ({ msgtype, group: { robot }, messages })));
    }
    if (groups.chats.length > 0) {
      const messages = this.limited(() => toChatMessages(msgtype, raw, mentions));
      parts.push(...groups.chats.map((chat) => ({ msgtype, group: { chat }, messages })));
    }
    return { template, app, msgtype, body, parts };
  }

  private memberParts(template: EventTemplate, msgtype: Msgtype, body: Record<string, unknown>, to: Recipients, data: Record<string, unknown>): PreparedPart[] {
    const partsOf = (recipients: Recipients, type: Msgtype, typeBody: Record<string, unknown>) => splitRecipients(recipients).map((part) => ({ to: part, msgtype: type, body: typeBody }));
    // WeCom shows markdown in its own client only: members reading through the WeChat plugin get the text form.
    const readers = this.deps.config.wechatReaders;
    if (msgtype === 'markdown' && template.msgtypes.includes('text') && readers && to !== '@all') {
      const { wechat, others } = splitReaders(to, readers);
      if (wechat) return [...(others ? partsOf(others, msgtype, body) : []), ...partsOf(wechat, 'text', this.render(template, 'text', data))];
    }
    return partsOf(to, msgtype, body);
  }

  /**
   * A caller's URL that the egress policy refuses outright (loopback, metadata, not
   * http) is the caller's mistake, named at POST time; a name is resolved and checked
   * again when the worker connects. The template's own callbackUrl is the operator's: trusted.
   */
  private checkEgress(urls: [field: string, url: string | undefined][]): void {
    const refused = urls.flatMap(([field, url]) => {
      const reason = url ? this.deps.egress?.refusal(url) : undefined;
      return reason ? [{ field, message: `${field === 'data' ? 'the file URL' : 'callbackUrl'}: ${reason} (EGRESS_ALLOW opens an address)` }] : [];
    });
    if (refused.length > 0) throw new ApiError(400, 'egress_refused', refused.map((r) => r.message).join('; '), refused);
  }

  /** An unknown robot is the caller's mistake, named at POST time with nothing queued. */
  private checkRobots(names: string[]): void {
    const known = this.deps.config.robots.map((r) => r.name);
    const unknown = names.map((name, i) => [name, i] as const).filter(([name]) => !known.includes(name));
    if (unknown.length === 0) return;
    const configured = known.length > 0 ? `configured: ${known.join(', ')}` : 'none is configured (WECOM_ROBOTS)';
    throw new ApiError(404, 'unknown_robot', `unknown robot ${unknown.map(([n]) => n).join(', ')} (${configured})`, unknown.map(([name, i]) => ({ field: `to.robots.${i}`, message: `no robot is named ${name}` })));
  }

  /**
   * Only chats registered through the gateway can be sent to (WeCom takes only chats
   * the app created, reference §14), each by the key that owns it, an admin, or a key
   * whose scope lists it; a chat the operator's configuration names for this send (an
   * alert route's) by any key posting it. The gateway's own messages (no caller) reach
   * any registered chat. Public for the alert webhooks, which check before storm control.
   */
  async authorizeChats(request: SendRequest, caller: Caller | undefined, configuredChats: string[] = []): Promise<void> {
    if (request.to === '@all') return;
    const named = request.to.chats ?? [];
    const chats = unique(named);
    if (chats.length === 0) return;
    const app = findApp(this.deps.config, request.app)?.name ?? request.app ?? this.deps.config.defaultApp;
    const registered = this.deps.chats ? await this.deps.chats.many(app, chats) : chats.map(() => undefined);
    const missing = chats.filter((_, i) => !registered[i]);
    if (missing.length > 0) {
      throw new ApiError(404, 'unknown_chat', `unknown chat ${missing.join(', ')}: create it with POST /v1/chats, or register a chat the app made elsewhere with PUT /v1/chats/{chatid}`, missing.map((chat) => ({ field: `to.chats.${named.indexOf(chat)}`, message: `app ${app} knows no chat ${chat}` })));
    }
    if (!caller) return;
    const refused = registered.find((chat) => !configuredChats.includes(chat!.chatid) && !mayUseChat(chat!, caller));
    if (!refused) return;
    const message = `chat ${refused.chatid} belongs to another key: its owner, an admin, or a key whose scope lists it (chats:) may send to it`;
    throw new ApiError(403, 'forbidden', message, [{ field: `to.chats.${named.indexOf(refused.chatid)}`, message }]);
  }

  /**
   * A key's distinct users an hour stay under its cap, which bounds the member budgets'
   * Redis keys it can cause (budgets/recipient-cap.ts): 429 naming to.users, with
   * Retry-After when waiting makes room. The gateway's own messages are not counted,
   * nor keyless mode's (the sandbox: one local user, no other team to protect).
   */
  private async countRecipients(request: SendRequest, caller: Caller | undefined): Promise<void> {
    if (!caller || caller.id === LOCAL_CALLER.id || !this.deps.recipientCap || request.to === '@all') return;
    const refusal = await this.deps.recipientCap.name(caller.id, request.to.users ?? [], caller.scope?.recipientsPerHour);
    if (!refusal) return;
    const cap = `this key may name at most ${refusal.cap} distinct users an hour`;
    const message = refusal.retryAfterSeconds === undefined
      ? `${cap} and this request alone names ${refusal.named}: split it, name departments or tags, or ask the operator for a larger recipientsPerHour`
      : `${cap}: the new ones in this request pass it; retry in ${refusal.retryAfterSeconds} s, or name departments or tags`;
    throw new RetryLaterError('recipient_limit', message, [{ field: 'to.users', message: cap }], refusal.retryAfterSeconds);
  }

  /** A message its destination cannot take as it is (a URL without http, an interactive card to a robot, @all in markdown...): 422 naming why. */
  private limited<T>(convert: () => T): T {
    try {
      return convert();
    } catch (error) {
      if (!(error instanceof MessageLimitError)) throw error;
      throw new ApiError(422, 'cannot_render', error.message, [{ field: error.field, message: error.message }]);
    }
  }

  private render(template: EventTemplate, msgtype: Msgtype, data: Record<string, unknown>, options?: { raw?: boolean }): Record<string, unknown> {
    try {
      return template.render(msgtype, data, options);
    } catch (error) {
      if (!(error instanceof RenderError)) throw error;
      throw new ApiError(422, 'cannot_render', error.message, [{ field: error.field, message: error.message }]);
    }
  }

  /** An event's template, for flows that look at what it offers (alert cards, escalation levels). */
  template(event: string): EventTemplate | undefined {
    return this.deps.templates.get(event);
  }

  /** An event's body as members get it, within WeCom's limits: what a card update sends. */
  renderBody(event: string, msgtype: Msgtype, data: Record<string, unknown>): Record<string, unknown> {
    const template = this.template(event);
    if (!template) throw new ApiError(404, 'unknown_event', `unknown event ${event}`);
    return this.render(template, msgtype, data);
  }

  /** The exact message/send, webhook/send and appchat/send bodies that would be sent; nothing is queued. */
  async preview(request: SendRequest, caller?: Caller) {
    this.authorize(request, caller);
    const prepared = this.prepare(request);
    await this.authorizeChats(request, caller);
    const options = { agentId: prepared.app.agentId, duplicateCheckSeconds: this.deps.config.send.duplicateCheckSeconds };
    // A preview has no message id yet: the real interval differs per send (see duplicateCheckInterval).
    const payloadsOf = (p: PreparedPart, part: number) => partPayloads(p, { ...options, sendId: `preview_${part}` });
    const robots = prepared.parts.flatMap((p, part) => ('group' in p && 'robot' in p.group ? [{ robot: p.group.robot, payloads: payloadsOf(p, part) }] : []));
    const chats = prepared.parts.flatMap((p, part) => ('group' in p && 'chat' in p.group ? [{ chatid: p.group.chat, payloads: payloadsOf(p, part) }] : []));
    return {
      event: prepared.template.event,
      msgtype: prepared.msgtype,
      app: prepared.app.name,
      payloads: prepared.parts.flatMap((p, part) => ('to' in p ? payloadsOf(p, part) : [])),
      ...(robots.length > 0 ? { robots } : {}),
      ...(chats.length > 0 ? { chats } : {}),
      ...(MEDIA_MSGTYPES.has(prepared.msgtype) && hasMediaSource(prepared.body) ? { note: 'media is uploaded at send time; its media_id replaces "media"' } : {}),
    };
  }

  /**
   * Persists the message and its send jobs before answering; a repeated idempotency
   * key (of the same caller) answers the first id and its current status. Without a
   * caller the gateway sends on its own account (storm digests, extensions).
   * `configuredChats`: chats the operator's configuration names for this send (an alert route's).
   */
  async accept(request: SendRequest, context: { caller?: Caller; requestId?: string; idempotencyField?: string; configuredChats?: string[] } = {}): Promise<{ id: string; created: boolean; status: MessageStatus }> {
    const { caller, requestId } = context;
    this.authorize(request, caller);
    const prepared = this.prepare(request);
    const createdBy = caller?.id ?? GATEWAY_CALLER_ID;
    await this.authorizeChats(request, caller, context.configuredChats);
    // Last before persisting: a request refused for anything else counts no users.
    await this.countRecipients(request, caller);
    const callbackUrl = request.callbackUrl ?? prepared.template.callbackUrl;
    const id = randomUUID();
    const acceptedAt = Date.now();
    const timeout = this.deps.storeTimeoutMs ?? 2_000;
    let result: { id: string; created: boolean };
    try {
      result = await withTimeout(
        this.deps.store.create(
          {
            id,
            event: prepared.template.event,
            msgtype: prepared.msgtype,
            app: prepared.app.name,
            parts: prepared.parts.length,
            createdAt: acceptedAt,
            requestId,
            callbackUrl,
            createdBy,
            ...(prepared.parts.some((p) => 'group' in p) ? { destinations: prepared.parts.map(destinationOf) } : {}),
            recipients: recipientsSummary(request.to),
            ...(request.idempotencyKey !== undefined ? { requestHash: requestHash(request) } : {}),
          },
          request.idempotencyKey,
        ),
        timeout,
      );
    } catch (error) {
      throw error instanceof RedisUnavailableError ? new UnavailableError() : error;
    }
    const jobs: SendJobData[] = prepared.parts.map((destination, part) => ({
      ...destination,
      messageId: result.id,
      part,
      app: prepared.app.name,
      event: prepared.template.event,
      requestId,
      acceptedAt,
      owner: createdBy,
      priority: request.priority ?? prepared.template.priority,
      ...(callbackUrl ? { notifyFinal: true } : {}),
    }));
    if (!result.created) {
      this.refuseReusedKey(result, request, createdBy, context.idempotencyField ?? 'idempotencyKey');
      const status = await this.repeat(result.id, jobs);
      await this.confirmReplicated();
      return { ...result, status };
    }
    try {
      const queueing = async () => {
        await this.robotLineStep(jobs, 'join');
        await enqueueParts(this.deps.queue, await this.withinShare(jobs), this.deps.config.send);
      };
      await withTimeout(queueing(), timeout);
    } catch (error) {
      await this.deps.store.remove(id, request.idempotencyKey === undefined ? undefined : { createdBy, key: request.idempotencyKey }).catch(() => undefined);
      await this.robotLineStep(jobs, 'leave').catch(() => undefined);
      throw error instanceof RedisUnavailableError ? new UnavailableError() : error;
    }
    await this.confirmReplicated();
    this.accepted({ event: prepared.template.event, msgtype: prepared.msgtype }).inc();
    return { ...result, status: 'queued' };
  }

  /**
   * A caller's key reused for another request would otherwise answer the first
   * message and silently drop this one: 422. A first message without a hash
   * (accepted before hashes were kept) counts as the same. The gateway's own keys
   * are exempt: a retried escalation or digest may carry fresher data (a new task_id)
   * and must still find its first message.
   */
  private refuseReusedKey(first: { id: string; requestHash?: string }, request: SendRequest, createdBy: string, field: string): void {
    if (createdBy === GATEWAY_CALLER_ID || first.requestHash === undefined || first.requestHash === requestHash(request)) return;
    const message = `this ${field} was already used for another request (message ${first.id}) within the retention; a repeat must send the same body, a new message needs a new key`;
    throw new ApiError(422, 'idempotency_key_reused', message, [{ field, message: 'already used for a different body' }]);
  }

  /**
   * With REDIS_WAIT_REPLICAS, no 202 before the replicas hold the record and its jobs.
   * When they do not confirm in time (a failover under way, a replica away), the master
   * may still have the message and send it, or lose it: the caller cannot know, so it
   * retries with the same Idempotency-Key, which answers the message's id if it lives.
   */
  private async confirmReplicated(): Promise<void> {
    try {
      await this.deps.replicated?.();
    } catch {
      throw new ApiError(503, 'unavailable', 'Redis replicas did not confirm the message in time; retry with the same Idempotency-Key');
    }
  }

  /**
   * A repeat of an idempotency key answers the first message's current status (it may
   * be sent or recalled by now). If the first request died between persisting and
   * queueing (a crash, a lost Redis write), its id would never be sent: while no part
   * has been tried, the repeat queues the parts again. Job ids make this a no-op when
   * the jobs exist (also while the first request is still queueing them).
   */
  private async repeat(id: string, jobs: SendJobData[]): Promise<MessageStatus> {
    const parts = await this.deps.store.parts(id);
    if (parts.length === jobs.length && parts.every((p) => p.status === 'queued' && p.attempts === 0)) {
      await this.robotLineStep(jobs, 'join').catch(() => undefined);
      await enqueueParts(this.deps.queue, jobs, this.deps.config.send).catch(() => undefined);
    }
    return foldStatus(parts);
  }

  /**
   * A key's parts beyond its send share are marked as backlog: they go after every
   * key's parts within its share. The gateway's own messages (digests, escalations) have no share.
   */
  private async withinShare(jobs: SendJobData[]): Promise<SendJobData[]> {
    const owner = jobs[0]?.owner;
    if (!this.deps.share || !owner || owner === GATEWAY_CALLER_ID) return jobs;
    const beyond = await this.deps.share.take(owner, jobs.length);
    return jobs.map((job, i) => (beyond[i] === undefined ? job : { ...job, backlog: beyond[i] }));
  }

  /** A robot's parts are sent in the order they joined its line: they join before they are queued, and leave if queueing fails. */
  private async robotLineStep(jobs: SendJobData[], step: 'join' | 'leave'): Promise<void> {
    const lines = this.deps.robotLines;
    if (!lines) return;
    for (const job of jobs) if ('group' in job && 'robot' in job.group) await lines[step](job.group.robot, sendIdOf(job));
  }
}
