import { ApiError } from '../http/errors';
import { findApp } from '../wecom/app';
import { applyMessageLimits } from '../wecom/limits';
import { checkRobots, limited, type PrepareDeps, type PreparedMessage, type PreparedPart } from './prepare';
import { memberCalls, membersOf, type Recipients } from './recipients';
import { groupsOf, type SendRequest } from './send-request';
import type { EventTemplate, Msgtype } from './templates';

/**
 * A message its caller rendered already (the WeCom-compatible API: a tool's own
 * message/send, appchat/send or webhook/send body): no template, the body goes as
 * it is, to members, one robot or one chat. It becomes the same parts as a
 * templated request and is accepted by the same Acceptance.
 */
export interface RenderedMessage {
  /** The record's event name: `wecom.message`, `wecom.appchat`, `wecom.robot`. */
  event: string;
  app?: string;
  to: Recipients;
  msgtype: Msgtype;
  /** The body under `msgtype`, in the form its destination takes (a robot's image as base64+md5). */
  body: Record<string, unknown>;
  idempotencyKey?: string;
  /** Who the body @-mentions, for the key's scope ("@all" needs allowAll); the body itself carries the mentions. */
  mentions?: { users: string[] };
}

/** The request a rendered message stands for, for what Acceptance reads of one (scope, recipients, hash). */
export function renderedRequest(message: RenderedMessage): SendRequest {
  const { event, app, to, msgtype, idempotencyKey, mentions } = message;
  const optional = { ...(app ? { app } : {}), ...(idempotencyKey ? { idempotencyKey } : {}), ...(mentions ? { mentions } : {}) };
  return { event, to, data: {}, msgtype, ...optional };
}

/** A template that renders nothing: the record's event and priority, for a message that came rendered. */
function asTemplate(message: RenderedMessage): EventTemplate {
  return {
    event: message.event,
    priority: 'normal',
    defaultMsgtype: message.msgtype,
    msgtypes: [message.msgtype],
    data: [],
    render: () => message.body,
  };
}

/**
 * The parts of a rendered message: members' calls with the body within WeCom's app
 * limits (what WeCom cuts is cut, what it refuses is refused), a robot's or a chat's
 * one message as it came. Pure, like prepare.
 */
export function prepareRendered(message: RenderedMessage, deps: PrepareDeps): PreparedMessage {
  const app = findApp(deps.config, message.app);
  if (!app) throw new ApiError(404, 'unknown_app', `unknown app ${message.app ?? deps.config.defaultApp}`);
  const { msgtype } = message;
  const members = membersOf(message.to);
  const groups = groupsOf(message.to);
  checkRobots(groups.robots, deps);
  const body = members ? limited(() => applyMessageLimits(msgtype, message.body)) : message.body;
  const single = [{ msgtype, body: message.body }];
  const parts: PreparedPart[] = [
    ...(members ? memberCalls(members).map((call) => ({ ...call, msgtype, body })) : []),
    ...groups.robots.map((robot) => ({ msgtype, group: { robot }, messages: single })),
    ...groups.chats.map((chat) => ({ msgtype, group: { chat }, messages: single })),
  ];
  return { template: asTemplate(message), app, msgtype, body, parts };
}
