import type { WebhookOutbox } from '../webhooks/webhook-outbox';
import { eventHeader, memberMessage, type CallbackEvent } from '../wecom/callback/event';
import type { EventRule } from '../core';

/** User messages to the app (reference §7.1). */
export const USER_MESSAGE_TYPES = ['text', 'image', 'voice', 'video', 'location', 'link', 'file'];
/** App events a backend may act on: menu clicks, scans, card buttons… (§7.2). */
export const FORWARDED_APP_EVENTS = [
  'click',
  'view',
  'scancode_push',
  'scancode_waitmsg',
  'pic_sysphoto',
  'pic_photo_or_album',
  'pic_weixin',
  'location_select',
  'enter_agent',
  'template_card_event',
  'template_card_menu_event',
];

/** What INBOUND_WEBHOOK_URL receives: stable camelCase names, and WeCom's fields verbatim under `raw`. */
export function toInboundJson(event: CallbackEvent) {
  const { event: name, eventKey } = eventHeader(event);
  const message = memberMessage(event);
  return {
    id: event.dedupeKey,
    app: event.app,
    kind: message.msgType === 'event' ? 'event' : 'message',
    msgType: message.msgType,
    event: name,
    eventKey,
    fromUser: message.fromUser,
    corpId: message.corpId,
    agentId: message.agentId,
    msgId: message.msgId,
    content: message.content,
    createdAt: message.createdAt,
    raw: event.fields,
  };
}

/** Forwarding of user messages and app events to the inbound webhook: tried after every other rule. */
export function inboundForwardingRules(outbox: WebhookOutbox, clock: () => number): EventRule[] {
  const forward = async (event: CallbackEvent) => outbox.add({ id: event.dedupeKey, body: toInboundJson(event), createdAt: clock() });
  return [
    { name: 'forward-user-message', match: { msgType: USER_MESSAGE_TYPES }, handle: forward },
    { name: 'forward-app-event', match: { msgType: 'event', event: FORWARDED_APP_EVENTS }, handle: forward },
  ];
}
