import type { Request } from 'express';
import type { AlertRoute, AlertsConfig } from './alerts-config';
import { callerOf, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import { queryParam, type Route } from '../http/route';
import type { MessageService, SendRequest } from '../messages/message-service';
import type { AlertContext, AlertTracking } from './alert-tracking';
import { recipientsSchema, type Recipients } from '../messages/recipients';
import type { Metrics } from '../ops/metrics';
import { alertmanagerSchema, fromAlertmanager, fromGrafana, grafanaSchema, notificationKey, type Notification } from './payloads';
import type { StormControl } from '../quotas/storm-control';

const MSGTYPES = new Set(['markdown', 'text', 'textcard']);

/** `?users=a,b`: a comma-separated list, given once (a repeated parameter is a 400 naming it). */
function list(req: Request, name: string): string[] | undefined {
  const value = queryParam(req, name);
  return value ? value.split(',').map((v) => v.trim()).filter(Boolean) : undefined;
}

/** The first configured route whose receiver and labels all match the notification. */
function matchRoute(routes: AlertRoute[], n: Notification): AlertRoute | undefined {
  return routes.find(({ match }) => {
    if (!match) return false;
    if (match.receiver !== undefined && match.receiver !== n.receiver) return false;
    return Object.entries(match.labels ?? {}).every(([k, v]) => n.commonLabels[k] === v);
  });
}

const RECIPIENT_LISTS = ['users', 'parties', 'tags', 'robots', 'chats'] as const;

/** Recipients from the query (`?users=a,b&parties=…&tags=…&robots=…&chats=…`), a named route (`?route=`), or a matching route. */
function resolve(req: Request, routes: AlertRoute[], n: Notification): { to: Recipients; route?: AlertRoute } {
  const fromQuery = Object.fromEntries(RECIPIENT_LISTS.map((name) => [name, list(req, name)]));
  const queried = Object.values(fromQuery).some(Boolean);
  const routeName = queryParam(req, 'route');
  const named = routeName === undefined ? undefined : routes.find((r) => r.name === routeName);
  if (routeName !== undefined && !named) throw new ApiError(404, 'unknown_route', `no alert route named ${routeName}`);
  const route = named ?? (queried ? undefined : matchRoute(routes, n));
  const candidate = queried ? fromQuery : route ? Object.fromEntries(RECIPIENT_LISTS.map((name) => [name, route[name]])) : undefined;
  if (!candidate) throw new ApiError(400, 'no_recipients', 'no recipients: give ?users=, ?parties=, ?tags=, ?robots=, ?chats= or ?route=, or configure a matching route', [{ field: 'users', message: 'no recipients' }]);
  const parsed = recipientsSchema.safeParse(Object.fromEntries(Object.entries(candidate).filter(([, v]) => v !== undefined)));
  if (!parsed.success) throw ApiError.invalid(parsed.error.issues, 'query.');
  return { to: parsed.data, route };
}

function formatTime(iso: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 2000) return iso;
  return new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(date);
}

const LINK_NAMES = { generator: '来源 Source', grafana: 'Grafana', runbook: 'Runbook' } as const;

/** The group's links, one of each kind (the first alert that has it): the card's link buttons, the robots' link line. */
function groupLinks(n: Notification): { name: string; url: string }[] {
  return (Object.keys(LINK_NAMES) as (keyof typeof LINK_NAMES)[]).flatMap((kind) => {
    const url = n.alerts.find((a) => a.links[kind])?.links[kind];
    return url ? [{ name: LINK_NAMES[kind], url }] : [];
  });
}

/** The alert.notification template's data: the first few alerts, and "+N more". */
export function notificationData(n: Notification, settings: Pick<AlertsConfig, 'timeZone' | 'maxAlertsPerMessage'>) {
  const shown = n.alerts.slice(0, settings.maxAlertsPerMessage);
  const firing = n.status === 'firing';
  const more = n.alerts.length - shown.length + n.truncated;
  const links = groupLinks(n);
  return {
    source: n.source,
    status: n.status,
    statusText: firing ? '🔥 FIRING' : '✅ RESOLVED',
    title: n.title,
    count: n.alerts.length + n.truncated,
    alerts: shown.map((a) => ({
      status: a.status,
      name: a.name,
      severity: a.severity,
      summary: a.summary,
      description: a.description,
      startsAt: formatTime(a.startsAt, settings.timeZone),
      labels: Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(' '),
      url: /^https?:\/\//.test(a.url) ? a.url : '',
    })),
    more: more > 0 ? more : null,
    severity: n.commonLabels.severity ?? n.alerts[0]?.severity ?? 'unknown',
    links,
    // Markdown links each alert's source already: its link line holds the rest.
    otherLinks: links.filter((link) => !shown.some((a) => a.url === link.url)),
    // Nothing to silence once resolved.
    silenceUrl: firing ? (n.silenceURL ?? null) : null,
    // The card button opens what the alert is about (its panel, dashboard or
    // graph), then the monitoring UI, and only then the silence page.
    url: [...n.alerts.map((a) => a.url), n.externalURL, firing ? n.silenceURL : undefined].find((u) => u && /^https?:\/\//.test(u)) ?? 'https://work.weixin.qq.com/',
  };
}

export function alertRoutes(messages: MessageService, storm: StormControl, settings: AlertsConfig, metrics: Metrics, tracking?: AlertTracking): Route[] {
  /** Followed groups (cards, escalation) are sent by the tracking; the rest is one message. */
  async function deliver(ctx: AlertContext, request: SendRequest): Promise<{ id: string; ids?: string[]; alert?: string; status: 'queued' }> {
    if (!tracking?.tracks(ctx.route, ctx.event)) {
      const { id } = await messages.accept(request, { caller: ctx.caller, requestId: ctx.requestId });
      return { id, status: 'queued' };
    }
    const { alert, ids } = await tracking.fire(ctx);
    return { id: ids[0], ...(ids.length > 1 ? { ids } : {}), alert, status: 'queued' };
  }

  async function handle(req: Request, caller: Caller, notification: Notification) {
    const { to, route } = resolve(req, settings.routes, notification);
    const msgtype = queryParam(req, 'msgtype') ?? route?.msgtype;
    if (msgtype !== undefined && !MSGTYPES.has(msgtype)) throw new ApiError(400, 'invalid_request', 'msgtype must be markdown, text or textcard', [{ field: 'query.msgtype', message: 'markdown, text or textcard' }]);
    const data = notificationData(notification, settings);
    const mentions = route?.mentions ? { mentions: route.mentions } : {};
    const event = route?.event ?? 'alert.notification';
    const request = messages.parse({ event, ...(msgtype ? { msgtype } : {}), to, data, ...mentions });
    // Before storm control: a folded notification goes out later in a digest, past any check made then.
    messages.authorize(request, caller);
    const ctx: AlertContext = { notification, to, route, event, ...(msgtype ? { msgtype } : {}), ...mentions, data, caller, requestId: String(req.id) };
    // A followed group's resolution updates cards already sent: no new message, so no storm to fold it into (and its repeats change nothing).
    if (notification.status === 'resolved' && tracking?.tracks(route, event)) {
      const resolved = await tracking.resolve(ctx);
      if (resolved) {
        metrics.alertNotifications.inc({ source: notification.source, decision: 'updated' });
        return { alert: resolved.alert, status: 'updated' };
      }
    }
    const key = notificationKey(notification);
    const admission = await storm.admit(to, key, { statusText: data.statusText, title: data.title, count: data.count });
    metrics.alertNotifications.inc({ source: notification.source, decision: admission.decision });
    if (admission.decision === 'duplicate') return { status: 'deduplicated', ...(admission.id ? { id: admission.id } : {}) };
    if (admission.decision === 'folded') return { status: 'folded' };
    let answer;
    try {
      answer = await deliver(ctx, request);
    } catch (error) {
      await storm.forget(to, key).catch(() => undefined);
      throw error;
    }
    await storm.remember(to, key, answer.id);
    return answer;
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
