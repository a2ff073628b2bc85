import type { Request } from 'express';
import type { Logger } from 'pino';
import { alertOwnerOf, callerOf, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import { queryParam, type Route } from '../http/route';
import type { MessageService } from '../messages/message-service';
import type { SendRequest } from '../messages/send-request';
import { recipientsSchema, type Recipients } from '../messages/recipients';
import type { Metrics } from '../ops/metrics';
import { foldItemOf, notificationData, notificationTimes } from './alert-data';
import { stormKeyOf, type AlertContext, type AlertTracking } from './alert-tracking';
import type { AlertRoute, AlertsConfig } from './alerts-config';
import { alertmanagerSchema, fromAlertmanager, fromGrafana, grafanaSchema, type Notification } from './payloads';
import type { StormControl } from './storm';

const MSGTYPES = new Set(['markdown', 'text', 'textcard']);

/** `?users=a,b`: a comma-separated list, given once (a repeated parameter is a 400 naming it). */
function list(req: Request, name: string): string[] | undefined {
  const value = queryParam(req, name);
  return value ? value.split(',').map((v) => v.trim()).filter(Boolean) : undefined;
}

/** The first configured route whose receiver and labels all match the notification; else the fallback route. */
export function matchRoute(routes: AlertRoute[], n: Notification): AlertRoute | undefined {
  const matching = routes.find(({ match }) => {
    if (!match) return false;
    if (match.receiver !== undefined && match.receiver !== n.receiver) return false;
    return Object.entries(match.labels ?? {}).every(([k, v]) => n.commonLabels[k] === v);
  });
  return matching ?? routes.find((r) => r.fallback);
}

const RECIPIENT_LISTS = ['users', 'parties', 'tags', 'robots', 'chats'] as const;

/**
 * Nothing names recipients for this notification. Answered 503, which Alertmanager
 * retries (it drops a 4xx for good) and logs as a failed notification, so the
 * alert keeps coming until a route takes it; the gateway logs it at error and counts it.
 */
class UnroutedError extends ApiError {
  constructor(n: Notification) {
    super(503, 'unrouted', `no alert route matches this notification (receiver ${n.receiver || '(none)'}, labels ${JSON.stringify(n.commonLabels)}) and it names no recipients: add a route with fallback: true, or give ?users=, ?parties=, ?tags=, ?robots=, ?chats= or ?route=; the sender should retry it`);
  }
}

/** Recipients from the query (`?users=a,b&parties=…&tags=…&robots=…&chats=…`), a named route (`?route=`), or a matching (or the fallback) route. */
function resolve(req: Request, routes: AlertRoute[], n: Notification): { to: Recipients; route?: AlertRoute } {
  const fromQuery = Object.fromEntries(RECIPIENT_LISTS.map((name) => [name, list(req, name)]));
  const queried = Object.values(fromQuery).some(Boolean);
  const routeName = queryParam(req, 'route');
  const named = routeName === undefined ? undefined : routes.find((r) => r.name === routeName);
  if (routeName !== undefined && !named) throw new ApiError(404, 'unknown_route', `no alert route named ${routeName}`);
  const route = named ?? (queried ? undefined : matchRoute(routes, n));
  const candidate = queried ? fromQuery : route ? Object.fromEntries(RECIPIENT_LISTS.map((name) => [name, route[name]])) : undefined;
  if (!candidate) throw new UnroutedError(n);
  const parsed = recipientsSchema.safeParse(Object.fromEntries(Object.entries(candidate).filter(([, v]) => v !== undefined)));
  if (!parsed.success) throw ApiError.invalid(parsed.error.issues, 'query.');
  return { to: parsed.data, route };
}

/** The shipped notification event in the configured language; a route's `event:` wins. */
export function alertEvent(settings: Pick<AlertsConfig, 'language'>, kind: 'notification' | 'digest'): string {
  return `alert.${kind}${settings.language === 'en' ? '.en' : ''}`;
}

/**
 * Monitoring webhooks. The story of one notification: who gets it (query, route,
 * fallback: else 503, counted); a resolution of a group the gateway follows updates
 * its cards; anything else passes storm control (duplicates, the per-minute
 * budget, digests) and goes out: a firing group as cards the gateway follows, or
 * as one message (a resolution with no group to follow is only ever a resolved message).
 */
export function alertRoutes(deps: { messages: MessageService; storm: StormControl; settings: AlertsConfig; metrics: Metrics; logger: Logger; tracking?: AlertTracking }): Route[] {
  const { messages, storm, settings, metrics, tracking } = deps;

  async function handle(req: Request, caller: Caller, notification: Notification) {
    const { to, route } = recipientsOf(req, notification);
    const msgtype = queryParam(req, 'msgtype') ?? route?.msgtype;
    if (msgtype !== undefined && !MSGTYPES.has(msgtype)) throw new ApiError(400, 'invalid_request', 'msgtype must be markdown, text or textcard', [{ field: 'query.msgtype', message: 'markdown, text or textcard' }]);
    const data = notificationData(notification, settings);
    const mentions = route?.mentions ? { mentions: route.mentions } : {};
    const event = route?.event ?? alertEvent(settings, 'notification');
    const owner = alertOwnerOf(caller);
    const resolved = notification.status === 'resolved';
    const request = messages.parse({ event, ...(msgtype ? { msgtype } : {}), to, data: { ...data, ...notificationTimes(notification, settings.timeZone, Date.now()) }, ...mentions });
    // Before storm control: a folded notification goes out later in a digest, past any check made then.
    messages.authorize(request, caller);
    // The route's chats are the operator's choice, sendable by any key posting to it; others are the caller's to own.
    await messages.authorizeChats(request, caller, route?.chats);
    const ctx: AlertContext = { notification, owner, to, route, event, ...(msgtype ? { msgtype } : {}), ...mentions, data, caller, requestId: String(req.id) };
    const followed = tracking?.tracks(route, event) ? tracking : undefined;
    // A followed group's resolution updates what was sent: its new messages pass storm control themselves.
    if (resolved && followed) {
      const updated = await followed.resolve(ctx);
      if (updated) {
        metrics.alertNotifications.inc({ source: notification.source, decision: 'updated' });
        return { alert: updated.alert, status: 'updated' };
      }
    }
    const key = stormKeyOf(owner, notification);
    const admission = await storm.admit(to, key, foldItemOf(notification, settings.keyLabels), { ...(request.app ? { app: request.app } : {}), ...mentions });
    metrics.alertNotifications.inc({ source: notification.source, decision: admission.decision });
    if (admission.decision === 'duplicate') return { status: 'deduplicated', ...(admission.id ? { id: admission.id } : {}) };
    if (admission.decision === 'folded') return { status: 'folded' };
    let answer: { id?: string; ids?: string[]; alert?: string; status: 'queued' | 'outdated' };
    try {
      answer = await send(ctx, request, followed);
    } catch (error) {
      await storm.forget(to, key).catch(() => undefined);
      throw error;
    }
    if (answer.id) await storm.remember(to, key, answer.id);
    return answer;
  }

  /** A firing group the gateway follows goes out as its cards; anything else, a resolution above all, is one message. */
  async function send(ctx: AlertContext, request: SendRequest, followed?: AlertTracking) {
    if (!followed || ctx.notification.status !== 'firing') {
      const { id } = await messages.accept(request, { caller: ctx.caller, requestId: ctx.requestId, configuredChats: ctx.route?.chats });
      return { id, status: 'queued' as const };
    }
    const { alert, ids, outdated } = await followed.fire(ctx);
    // A replica's late firing of a group that has resolved since: nothing is sent.
    if (outdated) return { alert, status: 'outdated' as const };
    return { id: ids[0], ...(ids.length > 1 ? { ids } : {}), alert, status: 'queued' as const };
  }

  function recipientsOf(req: Request, notification: Notification) {
    try {
      return resolve(req, settings.routes, notification);
    } catch (error) {
      if (error instanceof UnroutedError) {
        metrics.alertsUnrouted.inc({ source: notification.source });
        deps.logger.error({ requestId: req.id, source: notification.source, receiver: notification.receiver, groupKey: notification.groupKey, labels: notification.commonLabels }, 'alert notification unrouted: no route matches and it names no recipients (answered 503 so the sender retries)');
      }
      throw error;
    }
  }

  return [
    {
      method: 'post',
      path: '/v1/integrations/alertmanager',
      auth: 'send',
      handler: async (req, res) => {
        const parsed = alertmanagerSchema.safeParse(req.body);
        if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
        res.status(202).json(await handle(req, callerOf(res), fromAlertmanager(parsed.data)));
      },
    },
    {
      method: 'post',
      path: '/v1/integrations/grafana',
      auth: 'send',
      handler: async (req, res) => {
        const parsed = grafanaSchema.safeParse(req.body);
        if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
        res.status(202).json(await handle(req, callerOf(res), fromGrafana(parsed.data)));
      },
    },
  ];
}
