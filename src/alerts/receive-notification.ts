import type { Logger } from 'pino';
import { alertOwnerOf, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import type { MessageService } from '../messages/message-service';
import type { SendRequest } from '../messages/send-request';
import type { Metrics } from '../ops/metrics';
import { foldItemOf, notificationData, notificationTimes } from './alert-data';
import { alertEvent, recipientsFor, UnroutedError, type QueryParam } from './alert-routing';
import { stormKeyOf, type AlertContext } from './alert-context';
import type { AlertTracking } from './alert-tracking';
import type { AlertsConfig } from './alerts-config';
import { parseNotification, type Notification } from './payloads';
import type { QuietAnswer, QuietHours } from './quiet-hours';
import type { Admission, StormControl } from './storm';

const MSGTYPES = new Set(['markdown', 'text', 'textcard']);

export interface ReceiveDeps {
  messages: MessageService;
  storm: StormControl;
  /** Routes' quiet hours: what they hold, and the digest at their end. */
  quiet: QuietHours;
  settings: AlertsConfig;
  metrics: Metrics;
  logger: Logger;
  /** Present when alerts go out through an app: the groups it follows. */
  tracking?: AlertTracking;
  /** The gateway's clock (core.clock): the message's times are read from it. */
  clock: () => number;
}

/** Who posted the notification, and what the webhook's URL asks for. */
export interface Asked {
  caller: Caller;
  requestId: string;
  query: QueryParam;
}

export type NotificationAnswer =
  | QuietAnswer
  | { status: 'updated'; alert: string }
  | { status: 'deduplicated'; id?: string }
  | { status: 'folded' }
  | { status: 'queued' | 'outdated'; id?: string; ids?: string[]; alert?: string };

/**
 * One monitoring notification (Alertmanager's or Grafana's webhook): who gets it
 * (query, route, fallback: else 503, counted); a resolution of a group the gateway
 * follows updates its cards; in a route's quiet hours it is held for the digest at
 * their end (a resolution takes its alerts out); anything else passes storm control (duplicates, the
 * per-minute budget, digests) and goes out: a firing group as cards the gateway
 * follows, or as one message (a resolution with no group to follow is only ever a
 * resolved message).
 */
export async function receiveNotification(
  source: Notification['source'],
  body: unknown,
  asked: Asked,
  deps: ReceiveDeps,
): Promise<NotificationAnswer> {
  const notification = parseNotification(source, body);
  const destination = routed(notification, asked, deps);
  const ctx = contextOf(notification, destination, asked, deps);
  const request = await authorized(ctx, deps);
  const followed = deps.tracking?.tracks(ctx.route, ctx.event) ? deps.tracking : undefined;
  if (notification.status === 'resolved' && followed) {
    const updated = await updateInPlace(ctx, followed, deps);
    if (updated) return updated;
  }
  const held = await quietHours(ctx, request, deps);
  if (held) return held;
  const admission = await stormControl(ctx, request, deps);
  if (admission.decision === 'duplicate') return { status: 'deduplicated', ...(admission.id ? { id: admission.id } : {}) } as const;
  if (admission.decision === 'folded') return { status: 'folded' } as const;
  return sendRemembered(ctx, request, followed, deps);
}

/** How it is rendered for its recipients: the route's or the shipped event, message type, data and mentions. */
function contextOf(
  notification: Notification,
  { to, route }: Pick<AlertContext, 'to' | 'route'>,
  asked: Asked,
  deps: ReceiveDeps,
): AlertContext {
  const msgtype = asked.query('msgtype') ?? route?.msgtype;
  if (msgtype !== undefined && !MSGTYPES.has(msgtype))
    throw new ApiError(400, 'invalid_request', 'msgtype must be markdown, text or textcard', [
      { field: 'query.msgtype', message: 'markdown, text or textcard' },
    ]);
  return {
    notification,
    owner: alertOwnerOf(asked.caller),
    to,
    route,
    event: route?.event ?? alertEvent(deps.settings, 'notification'),
    ...(msgtype ? { msgtype } : {}),
    ...(route?.mentions ? { mentions: route.mentions } : {}),
    data: notificationData(notification, deps.settings),
    caller: asked.caller,
    requestId: asked.requestId,
  };
}

/** Who gets it, and by which route; an unrouted notification is logged at error and counted before its 503. */
function routed(notification: Notification, asked: Asked, deps: ReceiveDeps) {
  try {
    return recipientsFor(asked.query, deps.settings.routes, notification);
  } catch (error) {
    if (error instanceof UnroutedError) {
      deps.metrics.alertsUnrouted.inc({ source: notification.source });
      const { source, receiver, groupKey, commonLabels: labels } = notification;
      deps.logger.error(
        { requestId: asked.requestId, source, receiver, groupKey, labels },
        'alert notification unrouted: no route matches and it names no recipients (answered 503 so the sender retries)',
      );
    }
    throw error;
  }
}

/**
 * The message it becomes, authorized before storm control: a folded notification
 * goes out later in a digest, past any check made then. The route's chats are the
 * operator's choice, sendable by any key posting to it; others are the caller's to own.
 */
async function authorized(ctx: AlertContext, deps: ReceiveDeps): Promise<SendRequest> {
  const times = notificationTimes(ctx.notification, deps.settings.timeZone, deps.clock());
  const request = deps.messages.parse({
    event: ctx.event,
    ...(ctx.msgtype ? { msgtype: ctx.msgtype } : {}),
    to: ctx.to,
    data: { ...ctx.data, ...times },
    ...(ctx.mentions ? { mentions: ctx.mentions } : {}),
  });
  deps.messages.authorize(request, ctx.caller);
  await deps.messages.authorizeChats(request, ctx.caller, ctx.route?.chats);
  return request;
}

/** A followed group's resolution updates what was sent: its new messages pass storm control themselves. */
async function updateInPlace(ctx: AlertContext, followed: AlertTracking, deps: ReceiveDeps) {
  const updated = await followed.resolve(ctx);
  if (!updated) return undefined;
  // Resolved in place: nor is it in the quiet hours' digest any more.
  await deps.quiet.withdraw(ctx);
  deps.metrics.alertNotifications.inc({ source: ctx.notification.source, decision: 'updated' });
  return { alert: updated.alert, status: 'updated' } as const;
}

/** Held by the route's quiet hours (or taken out of their digest), counted; undefined: it passes. */
async function quietHours(ctx: AlertContext, request: SendRequest, deps: ReceiveDeps): Promise<QuietAnswer | undefined> {
  const answer = await deps.quiet.hold(ctx, request);
  if (answer) deps.metrics.alertNotifications.inc({ source: ctx.notification.source, decision: answer.status });
  return answer;
}

/** Storm control's decision (send, duplicate, folded into the minute's digest), counted. */
async function stormControl(ctx: AlertContext, request: SendRequest, deps: ReceiveDeps): Promise<Admission> {
  const item = foldItemOf(ctx.notification, deps.settings.keyLabels);
  const options = { ...(request.app ? { app: request.app } : {}), ...(ctx.mentions ? { mentions: ctx.mentions } : {}) };
  const admission = await deps.storm.admit(ctx.to, stormKeyOf(ctx.owner, ctx.notification), item, options);
  deps.metrics.alertNotifications.inc({ source: ctx.notification.source, decision: admission.decision });
  return admission;
}

/**
 * Sends it and has storm control remember the message (a duplicate answers its id);
 * a send that failed is forgotten, so the sender's retry is no duplicate.
 */
async function sendRemembered(ctx: AlertContext, request: SendRequest, followed: AlertTracking | undefined, deps: ReceiveDeps) {
  const key = stormKeyOf(ctx.owner, ctx.notification);
  let answer: Awaited<ReturnType<typeof send>>;
  try {
    answer = await send(ctx, request, followed, deps.messages);
  } catch (error) {
    await deps.storm.forget(ctx.to, key).catch(() => undefined);
    throw error;
  }
  if (answer.id) await deps.storm.remember(ctx.to, key, answer.id);
  return answer;
}

/** A firing group the gateway follows goes out as its cards; anything else, a resolution above all, is one message. */
async function send(ctx: AlertContext, request: SendRequest, followed: AlertTracking | undefined, messages: MessageService) {
  if (!followed || ctx.notification.status !== 'firing') {
    const { id } = await messages.accept(request, { caller: ctx.caller, requestId: ctx.requestId, configuredChats: ctx.route?.chats });
    return { id, status: 'queued' as const };
  }
  const { alert, ids, outdated } = await followed.fire(ctx);
  // A replica's late firing of a group that has resolved since: nothing is sent.
  if (outdated) return { alert, status: 'outdated' as const };
  return { id: ids[0], ...(ids.length > 1 ? { ids } : {}), alert, status: 'queued' as const };
}
