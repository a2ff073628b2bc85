import { createHash } from 'node:crypto';

/**
 * A decrypted callback (reference §7): the children of <xml>, every leaf a
 * string exactly as WeCom sent it (MsgId is a 64-bit integer: never a JS number).
 * A plain JSON object: it is BullMQ job data, so its shape outlives a deploy.
 * The rest of the gateway reads it through the typed readers below.
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

/** A field of the event as WeCom sent it, when it is a string (extensions get this as `api.field`). */
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
  // A MsgId is a number; anything else (a forged `:`, which BullMQ job ids refuse) goes by its hash.
  if (typeof msgId === 'string' && /^[0-9A-Za-z_-]{1,64}$/.test(msgId)) return `${app}_msg_${msgId}`;
  if (typeof msgId === 'string' && msgId !== '') return `${app}_msg_${createHash('sha256').update(msgId).digest('hex').slice(0, 32)}`;
  return `${app}_evt_${createHash('sha256').update(plaintext).digest('hex').slice(0, 32)}`;
}

/** The elements every push may carry (§7): what routing, logs and queue names go by. */
export interface EventHeader {
  msgType?: string;
  event?: string;
  changeType?: string;
  eventKey?: string;
  /** A member's UserID, or `sys` for system events. */
  fromUser?: string;
  /** ToUserName: the corp the push is for. */
  corpId?: string;
  agentId?: string;
  msgId?: string;
  /** Unix seconds, as sent. */
  createTime?: string;
}

export function eventHeader(event: CallbackEvent): EventHeader {
  const f = (name: string) => field(event, name);
  return {
    msgType: f('MsgType'),
    event: f('Event'),
    changeType: f('ChangeType'),
    eventKey: f('EventKey'),
    fromUser: f('FromUserName'),
    corpId: f('ToUserName'),
    agentId: f('AgentID'),
    msgId: f('MsgId'),
    createTime: f('CreateTime'),
  };
}

/** CreateTime (Unix seconds) as an ISO time; undefined when it is not a number. */
function isoTime(createTime: string | undefined): string | undefined {
  const seconds = Number(createTime);
  return Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : undefined;
}

/** A short description for logs: never the content of a message. */
export function describe(event: CallbackEvent): Record<string, string | undefined> {
  const { msgType, event: name, changeType } = eventHeader(event);
  return { app: event.app, msgType, event: name, changeType, dedupeKey: event.dedupeKey };
}

/**
 * A customer added an employee (change_external_contact add_external_contact,
 * or add_half_external_contact: one-way, §7.4). Any id may be missing from a
 * malformed push; WelcomeCode and State are often absent by design.
 */
export interface AddExternalContact {
  changeType?: string;
  employee?: string;
  customer?: string;
  /** The `state` of the 「联系我」 code the customer used. */
  state?: string;
  welcomeCode?: string;
  /** add_half_external_contact: the member has not confirmed; its code cannot be used. */
  half: boolean;
  at?: string;
}

export function addExternalContact(event: CallbackEvent): AddExternalContact {
  const changeType = field(event, 'ChangeType');
  return {
    changeType,
    employee: field(event, 'UserID'),
    customer: field(event, 'ExternalUserID'),
    state: field(event, 'State'),
    welcomeCode: field(event, 'WelcomeCode'),
    half: changeType === 'add_half_external_contact',
    at: isoTime(field(event, 'CreateTime')),
  };
}

/** The relationship ended (del_external_contact: the employee removed the customer; del_follow_user: the other way round). */
export interface CustomerRemoved {
  changeType?: string;
  employee?: string;
  customer?: string;
}

export function customerRemoved(event: CallbackEvent): CustomerRemoved {
  return { changeType: field(event, 'ChangeType'), employee: field(event, 'UserID'), customer: field(event, 'ExternalUserID') };
}

/** A member's message to the app (§7.1); `content` is set for text messages. */
export interface MemberMessage {
  fromUser?: string;
  msgType?: string;
  content?: string;
  msgId?: string;
  agentId?: string;
  corpId?: string;
  createdAt?: string;
}

export function memberMessage(event: CallbackEvent): MemberMessage {
  const { fromUser, msgType, msgId, agentId, corpId, createTime } = eventHeader(event);
  return { fromUser, msgType, content: field(event, 'Content'), msgId, agentId, corpId, createdAt: isoTime(createTime) };
}

/** A click on an interactive card's button (template_card_event, §7.2 and §15). */
export interface CardClick {
  user?: string;
  /** The button's `key`. */
  eventKey?: string;
  taskId?: string;
  cardType?: string;
  /** Single use, 72 h: what message/update_template_card needs. */
  responseCode?: string;
  agentId?: string;
  at?: string;
}

export function cardClick(event: CallbackEvent): CardClick {
  const { fromUser, eventKey, agentId, createTime } = eventHeader(event);
  const [taskId, cardType, responseCode] = ['TaskId', 'CardType', 'ResponseCode'].map((name) => field(event, name));
  return { user: fromUser, eventKey, taskId, cardType, responseCode, agentId, at: isoTime(createTime) };
}
