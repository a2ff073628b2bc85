import { ApiError } from '../http/errors';
import type { EgressPolicy } from '../http/egress';
import { findApp, type WecomApp } from '../wecom/app';
import { chatPayload, robotPayload } from '../wecom/chat-message';
import type { ChatMessage } from '../wecom/group-chat';
import { buildSendPayload, type SendRecipients } from '../wecom/message-payload';
import { applyMessageLimits, MessageLimitError } from '../wecom/limits';
import type { MessagesSettings } from './messages-config';
import { hasMediaSource, type MediaSource } from './media';
import { groupMessagesOf } from './oncall-mentions';
import { requireSchedules, type OnCallDirectory } from './oncall-recipients';
import { memberCalls, membersOf, splitReaders, type Recipients } from './recipients';
import { renderTemplate } from './renderer';
import { groupsOf, type SendRequest } from './send-request';
import type { GroupSend, GroupTarget } from './send-queue';
import { MEDIA_MSGTYPES, type EventTemplate, type Msgtype } from './templates';

/** What preparing a request reads: the apps, robots and WeChat readers, the templates, and where callers' URLs may point. */
export interface PrepareDeps {
  config: Pick<MessagesSettings, 'apps' | 'defaultApp' | 'wechatReaders' | 'robots'>;
  templates: ReadonlyMap<string, EventTemplate>;
  /** What a caller's URLs may reach (checked again, resolved, at connect time). */
  egress?: Pick<EgressPolicy, 'refusal'>;
  /** The on-call schedules `to.oncall` and `mentions.oncall` may name; absent = none. */
  oncall?: Pick<OnCallDirectory, 'has'>;
}

/** A request rendered and split, ready to persist (or to show, for a preview). */
export interface PreparedMessage {
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

export type PreparedPart = { msgtype: string } & (
  | { to: SendRecipients; oncall?: string[]; body: Record<string, unknown> }
  | { group: GroupTarget; messages: ChatMessage[]; mentionOncall?: GroupSend['mentionOncall'] }
);

/**
 * The exact bodies one part goes as: its message/send, or its group's webhook/send
 * or appchat/send bodies in order (a preview's parts and a queued job's alike).
 */
export function partPayloads(
  part: PreparedPart,
  options: { agentId: number; duplicateCheckSeconds: number; sendId: string },
): Record<string, unknown>[] {
  if ('to' in part) return [buildSendPayload(part.msgtype, part.body, part.to, options)];
  const group = part.group;
  return 'robot' in group ? part.messages.map(robotPayload) : part.messages.map((m) => chatPayload(group.chat, m));
}

/** The URL a media message's file is downloaded from: none when its content is given (base64 wins, as in MediaResolver). */
const fetchedUrl = (media: MediaSource | undefined) => (media?.base64 ? undefined : media?.url);

/**
 * A request as the parts it goes out as, or the 4xx naming what is wrong with it
 * (unknown event, app or robot; a msgtype the event or its recipients cannot take;
 * a URL out of bounds). Pure: nothing is read from Redis or queued.
 */
export function prepare(request: SendRequest, deps: PrepareDeps): PreparedMessage {
  const template = deps.templates.get(request.event);
  if (!template) throw new ApiError(404, 'unknown_event', `unknown event ${request.event} (GET /v1/events lists them)`);
  const app = findApp(deps.config, request.app);
  if (!app) throw new ApiError(404, 'unknown_app', `unknown app ${request.app ?? deps.config.defaultApp}`);
  const msgtype = request.msgtype ?? template.defaultMsgtype;
  if (!template.msgtypes.includes(msgtype)) {
    throw new ApiError(400, 'invalid_request', `event ${template.event} cannot be sent as ${msgtype}`, [
      { field: 'msgtype', message: `one of ${template.msgtypes.join(', ')}` },
    ]);
  }
  const members = membersOf(request.to);
  const groups = groupsOf(request.to);
  checkRobots(groups.robots, deps);
  requireSchedules(request.to === '@all' ? undefined : request.to.oncall, 'to.oncall', deps.oncall);
  requireSchedules((request.mentions ?? template.mentions)?.oncall, 'mentions.oncall', deps.oncall);
  if (members && msgtype === 'markdown_v2') {
    throw new ApiError(400, 'invalid_request', 'markdown_v2 reaches group robots only', [
      { field: 'msgtype', message: 'markdown_v2 is for to.robots; members take markdown' },
    ]);
  }
  const raw = renderTemplate(template, msgtype, request.data, { raw: true });
  if (MEDIA_MSGTYPES.has(msgtype) && !hasMediaSource(raw) && !raw.media_id) {
    throw new ApiError(422, 'cannot_render', `a ${msgtype} message needs a file: give a URL or base64 content`, [
      { field: 'data', message: 'no media url, base64 or media_id' },
    ]);
  }
  checkEgress(deps, [
    ['callbackUrl', request.callbackUrl],
    ['data', fetchedUrl(raw.media as MediaSource | undefined)],
  ]);
  // Rendered once: members get the body within WeCom's app limits, robots and chats convert the raw one.
  const body = members ? limited(() => applyMessageLimits(msgtype, raw)) : raw;
  const parts: PreparedPart[] = members ? memberParts(template, msgtype, body, members, request, deps) : [];
  parts.push(...groupParts(template, msgtype, raw, groups, request));
  return { template, app, msgtype, body, parts };
}

function memberParts(
  template: EventTemplate,
  msgtype: Msgtype,
  body: Record<string, unknown>,
  to: Recipients,
  request: SendRequest,
  deps: PrepareDeps,
): PreparedPart[] {
  const partsOf = (recipients: Recipients, type: Msgtype, typeBody: Record<string, unknown>) =>
    memberCalls(recipients).map((call) => ({ ...call, msgtype: type, body: typeBody }));
  // WeCom shows markdown in its own client only: members reading through the WeChat plugin get the text form.
  const readers = deps.config.wechatReaders;
  if (msgtype === 'markdown' && template.msgtypes.includes('text') && readers && to !== '@all') {
    const { wechat, others: named } = splitReaders(to, readers);
    if (wechat) {
      const text = renderTemplate(template, 'text', request.data);
      // Whoever is on call is known when the part is sent: they get the markdown form.
      const others = to.oncall?.length ? { ...(named === '@all' ? {} : named), oncall: to.oncall } : named;
      return [...(others ? partsOf(others, msgtype, body) : []), ...partsOf(wechat, 'text', text)];
    }
  }
  return partsOf(to, msgtype, body);
}

/** One part per robot and per chat, each with the messages its destination takes. */
function groupParts(
  template: EventTemplate,
  msgtype: Msgtype,
  raw: Record<string, unknown>,
  groups: { robots: string[]; chats: string[] },
  request: SendRequest,
): PreparedPart[] {
  const parts: PreparedPart[] = [];
  const mentions = request.mentions ?? template.mentions;
  if (groups.robots.length > 0) {
    // A robot has no textcard: the event's own markdown form is closer to what its author meant than a converted card.
    const [robotType, robotBody] =
      msgtype === 'textcard' && template.msgtypes.includes('markdown')
        ? ['markdown', renderTemplate(template, 'markdown', request.data, { raw: true })]
        : [msgtype, raw];
    const built = limited(() => groupMessagesOf('robot', robotType, robotBody, mentions));
    parts.push(...groups.robots.map((robot) => ({ msgtype, group: { robot }, ...built })));
  }
  if (groups.chats.length > 0) {
    const built = limited(() => groupMessagesOf('chat', msgtype, raw, mentions));
    parts.push(...groups.chats.map((chat) => ({ msgtype, group: { chat }, ...built })));
  }
  return parts;
}

/**
 * A message its destination cannot take as it is (a URL without http, an interactive
 * card to a robot, @all in markdown...): 422 naming why.
 */
export function limited<T>(convert: () => T): T {
  try {
    return convert();
  } catch (error) {
    if (!(error instanceof MessageLimitError)) throw error;
    throw new ApiError(422, 'cannot_render', error.message, [{ field: error.field, message: error.message }]);
  }
}

/**
 * A caller's URL that the egress policy refuses outright (loopback, metadata, not
 * http) is the caller's mistake, named at POST time; a name is resolved and checked
 * again when the worker connects. The template's own callbackUrl is the operator's: trusted.
 */
function checkEgress(deps: PrepareDeps, urls: [field: string, url: string | undefined][]): void {
  const refused = urls.flatMap(([field, url]) => {
    const reason = url ? deps.egress?.refusal(url) : undefined;
    const what = field === 'data' ? 'the file URL' : 'callbackUrl';
    return reason ? [{ field, message: `${what}: ${reason} (EGRESS_ALLOW opens an address)` }] : [];
  });
  if (refused.length > 0) throw new ApiError(400, 'egress_refused', refused.map((r) => r.message).join('; '), refused);
}

/** An unknown robot is the caller's mistake, named at POST time with nothing queued. */
export function checkRobots(names: string[], deps: PrepareDeps): void {
  const known = deps.config.robots.map((r) => r.name);
  const unknown = names.map((name, i) => [name, i] as const).filter(([name]) => !known.includes(name));
  if (unknown.length === 0) return;
  const configured = known.length > 0 ? `configured: ${known.join(', ')}` : 'none is configured (WECOM_ROBOTS)';
  throw new ApiError(
    404,
    'unknown_robot',
    `unknown robot ${unknown.map(([n]) => n).join(', ')} (${configured})`,
    unknown.map(([name, i]) => ({ field: `to.robots.${i}`, message: `no robot is named ${name}` })),
  );
}
