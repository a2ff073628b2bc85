import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from '../http/errors';

/**
 * The webhook payloads monitoring systems send, accepted as they are, and one
 * normalized notification the gateway renders.
 */
const labels = z.record(z.string(), z.string());
const baseAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels,
  annotations: labels.default({}),
  startsAt: z.string(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional().default(''),
  fingerprint: z.string().optional(),
});

/** Prometheus Alertmanager webhook, version 4 (the only version it sends). */
export const alertmanagerSchema = z.object({
  version: z.literal('4'),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().optional().default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labels,
  commonLabels: labels,
  commonAnnotations: labels,
  externalURL: z.string(),
  alerts: z.array(baseAlert).min(1),
});

/** Grafana's webhook contact point (unified alerting). */
export const grafanaSchema = z.object({
  receiver: z.string().optional().default(''),
  status: z.enum(['firing', 'resolved']),
  orgId: z.number().optional(),
  alerts: z
    .array(
      baseAlert.extend({
        silenceURL: z.string().optional(),
        dashboardURL: z.string().optional(),
        panelURL: z.string().optional(),
        /** The rule's query values by refId (`{ "A": 2.31 }`); Grafana sends null where a query has none. */
        values: z.record(z.string(), z.number().nullable()).nullable().optional(),
        valueString: z.string().optional(),
      }),
    )
    .min(1),
  groupLabels: labels.optional().default({}),
  commonLabels: labels.optional().default({}),
  commonAnnotations: labels.optional().default({}),
  externalURL: z.string().optional().default(''),
  version: z.string().optional(),
  groupKey: z.string().optional().default(''),
  truncatedAlerts: z.number().int().nonnegative().optional().default(0),
  title: z.string().optional(),
  message: z.string().optional(),
});

export interface NormalizedAlert {
  status: 'firing' | 'resolved';
  name: string;
  severity: string;
  summary: string;
  description: string;
  /** What the alert measured: a `value` annotation, or Grafana's valueString. */
  value: string;
  startsAt: string;
  /** When it ended (a resolved alert); undefined while it fires (Alertmanager's `0001-01-01` or a time ahead). */
  endsAt?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Grafana's query values by refId. */
  values?: Record<string, number | null>;
  url: string;
  /** Where the card's link buttons and the robots' links lead: the rule's graph, its dashboard, what to do. */
  links: { generator?: string; grafana?: string; runbook?: string };
  fingerprint: string;
}

export interface Notification {
  source: 'alertmanager' | 'grafana';
  receiver: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  title: string;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  /** What the sender grouped by: silences fall back to these when the alerts share no labels. */
  groupLabels: Record<string, string>;
  alerts: NormalizedAlert[];
  /** Alerts the sender itself left out (Alertmanager's max_alerts). */
  truncated: number;
  externalURL: string;
  silenceURL?: string;
}

const httpOnly = (url: string | undefined) => (url && /^https?:\/\//i.test(url) ? url : undefined);

/** The links an alert carries: Prometheus' conventions (`runbook_url`), Grafana's fields, and common annotation names. */
function linksOf(alert: z.infer<typeof baseAlert> & { dashboardURL?: string; panelURL?: string }): NormalizedAlert['links'] {
  const a = alert.annotations;
  const links = {
    generator: httpOnly(alert.generatorURL),
    grafana: httpOnly(alert.panelURL || alert.dashboardURL || a.grafana_url || a.dashboard_url || a.dashboard),
    runbook: httpOnly(a.runbook_url || a.runbook),
  };
  return Object.fromEntries(Object.entries(links).filter(([, url]) => url));
}

/** A time the alert really has: Alertmanager writes `0001-01-01T00:00:00Z` for "none". */
export function alertTime(iso: string | undefined): number | undefined {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) || new Date(ms).getUTCFullYear() < 2000 ? undefined : ms;
}

function normalizeAlert(
  alert: z.infer<typeof baseAlert> & {
    silenceURL?: string;
    dashboardURL?: string;
    panelURL?: string;
    values?: Record<string, number | null> | null;
    valueString?: string;
  },
): NormalizedAlert {
  const a = alert.annotations;
  return {
    status: alert.status,
    name: alert.labels.alertname ?? 'alert',
    severity: alert.labels.severity ?? 'unknown',
    summary: a.summary ?? a.message ?? '',
    description: a.description ?? '',
    value: a.value ?? alert.valueString ?? '',
    startsAt: alert.startsAt,
    ...(alert.status === 'resolved' && alertTime(alert.endsAt) !== undefined ? { endsAt: alert.endsAt } : {}),
    labels: alert.labels,
    annotations: alert.annotations,
    ...(alert.values ? { values: alert.values } : {}),
    url: alert.panelURL || alert.dashboardURL || alert.generatorURL || '',
    links: linksOf(alert),
    fingerprint: alert.fingerprint ?? createHash('sha1').update(JSON.stringify(alert.labels)).digest('hex').slice(0, 16),
  };
}

/** Alertmanager's UI prefills a silence from matchers in the `filter` parameter. */
function silenceLink(externalURL: string, groupLabels: Record<string, string>): string | undefined {
  if (!externalURL || Object.keys(groupLabels).length === 0) return undefined;
  const matchers = Object.entries(groupLabels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${externalURL.replace(/\/+$/, '')}/#/silences/new?filter=${encodeURIComponent(`{${matchers}}`)}`;
}

export function fromAlertmanager(payload: z.infer<typeof alertmanagerSchema>): Notification {
  const alerts = payload.alerts.map(normalizeAlert);
  return {
    source: 'alertmanager',
    receiver: payload.receiver,
    groupKey: payload.groupKey,
    status: payload.status,
    title: payload.commonLabels.alertname ?? payload.groupLabels.alertname ?? [...new Set(alerts.map((a) => a.name))].join(', '),
    commonLabels: payload.commonLabels,
    commonAnnotations: payload.commonAnnotations,
    groupLabels: payload.groupLabels,
    alerts,
    truncated: payload.truncatedAlerts,
    externalURL: payload.externalURL,
    silenceURL: silenceLink(payload.externalURL, payload.groupLabels),
  };
}

export function fromGrafana(payload: z.infer<typeof grafanaSchema>): Notification {
  const alerts = payload.alerts.map(normalizeAlert);
  return {
    source: 'grafana',
    receiver: payload.receiver,
    groupKey: payload.groupKey || alerts.map((a) => a.fingerprint).join(','),
    status: payload.status,
    title: payload.commonLabels.alertname ?? [...new Set(alerts.map((a) => a.name))].join(', '),
    commonLabels: payload.commonLabels,
    commonAnnotations: payload.commonAnnotations,
    groupLabels: payload.groupLabels,
    alerts,
    truncated: payload.truncatedAlerts,
    externalURL: payload.externalURL,
    silenceURL: payload.alerts.find((a) => a.silenceURL)?.silenceURL,
  };
}

/**
 * Same group, same status, same alerts (fingerprint + start): the same
 * notification. Alertmanager re-sends it when our answer got lost; it becomes
 * the message's idempotency key so such a retry sends nothing twice.
 */
export function notificationKey(n: Notification): string {
  const alerts = n.alerts.map((a) => `${a.fingerprint}@${a.startsAt}:${a.status}`).sort();
  return `${n.source}-${createHash('sha256')
    .update(JSON.stringify([n.groupKey, n.status, alerts]))
    .digest('hex')
    .slice(0, 32)}`;
}

/** A payload as its source sends it, in the shape both sources share; else 400 naming the field (under `prefix`). */
export function parseNotification(source: Notification['source'], body: unknown, prefix = ''): Notification {
  if (source === 'grafana') {
    const grafana = grafanaSchema.safeParse(body);
    if (!grafana.success) throw ApiError.invalid(grafana.error.issues, prefix);
    return fromGrafana(grafana.data);
  }
  const alertmanager = alertmanagerSchema.safeParse(body);
  if (!alertmanager.success) throw ApiError.invalid(alertmanager.error.issues, prefix);
  return fromAlertmanager(alertmanager.data);
}
