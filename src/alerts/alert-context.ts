import type { Caller } from '../http/auth';
import type { Recipients } from '../messages/recipients';
import type { MessageMentions } from '../messages/mentions';
import type { NotificationData } from './alert-data';
import type { AlertRoute } from './alerts-config';
import { notificationKey, type Notification } from './payloads';

/** What one webhook call asks for: the notification, its owner and recipients, and how to render it. */
export interface AlertContext {
  notification: Notification;
  /** Whose groups it joins (alertOwnerOf the caller). */
  owner: string;
  to: Recipients;
  route?: AlertRoute;
  event: string;
  /** The route's or the query's message type: a member form other than the card. */
  msgtype?: string;
  data: NotificationData;
  /** Whom robot and chat messages @-mention (on-call schedules: whoever is on call when each is sent). */
  mentions?: MessageMentions;
  caller: Caller;
  requestId: string;
}

/** The notification's key for storm control, within its owner's namespace (another key's same payload is not a duplicate of it). */
export function stormKeyOf(owner: string, n: Notification): string {
  return `${owner}:${notificationKey(n)}`;
}
