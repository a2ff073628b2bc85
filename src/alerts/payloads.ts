import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The webhook payloads monitoring systems send, accepted as they are (unknown
 * fields pass through, so a newer sender does not break us), and the one
 * normalized notification the gateway renders.
 */
const labels = z.record(z.string(), z.string());
const status = z.enum(['firing', 'resolved']);

/** One alert as Alertmanager's webhook (notify/webhook, template.Alert) sends it. */
const alertmanagerAlert = z.object({
  status,
  labels,
  annotations: labels.default({}),
  startsAt: z.string(),
  endsAt: z.string().optional(),
  generatorURL: z.string().default(''),
  fingerprint: z.string().optional(),
});

/** Prometheus Alertmanager webhook, version 4 (the only version it has sent since 0.x). */
export const alertmanagerSchema = z.object({
  version: z.literal('4'),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status,
  receiver: z.string(),
  groupLabels: labels,
  commonLabels: labels,
  commonAnnotations: labels,
  externalURL: z.string(),
  alerts: z.array(alertmanagerAlert).min(1),
});

/**
 * Grafana's webhook contact point (unified alerting, Grafana 8+): Alertmanager's
 * shape plus links per alert and the query values (`valueString` up to 9.x,
 * `values` since). The legacy (pre-8) payload has no `alerts` and is refused.
 */
export const grafanaSchema = z.object({
  receiver: z.string().default(''),
  status,
  orgId: z.number().optional(),
  alerts: z
    .array(
      alertmanagerAlert.extend({
        silenceURL: z.string().optional(),
        dashboardURL: z.string().optional(),
        panelURL: z.string().optional(),
        valueString: z.string().optional(),
        values: z.record(z.string(), z.unknown()).nullable().optional(),
      }),
    )
    .min(1),
  groupLabels: labels.default({}),
  commonLabels: labels.default({}),
  commonAnnotations: labels.default({}),
  externalURL: z.string().default(''),
  version: z.string().optional(),
  groupKey: z.string().default(''),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  title: z.string().optional(),
  state: z.string().optional(),
  message: z.string().optional(),
});

type AlertmanagerAlert = z.infer<typeof alertmanagerAlert>;
type GrafanaAlert = z.infer<typeof grafanaSchema>['alerts'][number];

export interface NormalizedAlert {
  status: 'firing' | 'resolved';
  name: string;
  severity: string;
  summary: string;
  description: string;
  startsAt: string;
  /** When a resolved alert ended; absent while firing (senders put year 1 there). */
  endsAt?: string;
  labels: Record<string, string>;
  /** Where the alert comes from: Grafana's panel or dashboard, else the rule (generatorURL). */
  url: string;
  runbookUrl: string;
  /** Grafana links a prefilled silence per alert. */
  silenceURL?: string;
  fingerprint: string;
}

export interface Notification {
  source: 'alertmanager' | 'grafana';
  receiver: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  title: string;
  commonLabels: Record<string, string>;
  /** Firing before resolved, then by severity: the ones shown when the group is too large for one message. */
  alerts: NormalizedAlert[];
  /** Alerts the sender itself left out (Alertmanager's max_alerts). */
  truncated: number;
  externalURL: string;
  silenceURL?: string;
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, page: 0, error: 1, high: 1, warning: 2, warn: 2, medium: 2, info: 3, low: 3 };
const rank = (a: NormalizedAlert) => (a.status === 'firing' ? 0 : 10) + (SEVERITY_RANK[a.severity.toLowerCase()] ?? 4);

/** Go's zero time (`0001-01-01T00:00:00Z`) means "not ended". */
const isSet = (time: string | undefined): time is string => time !== undefined && time !== '' && !time.startsWith('0001-');

function normalizeAlert(alert: AlertmanagerAlert & Partial<GrafanaAlert>): NormalizedAlert {
  const values = alert.values ? Object.entries(alert.values).map(([k, v]) => `${k}=${v}`).join(' ') : '';
  return {
    status: alert.status,
    name: alert.labels.alertname ?? 'alert',
    severity: alert.labels.severity ?? 'unknown',
    summary: alert.annotations.summary ?? alert.annotations.message ?? '',
    description: alert.annotations.description ?? (alert.valueString || values),
    startsAt: alert.startsAt,
    endsAt: alert.status === 'resolved' && isSet(alert.endsAt) ? alert.endsAt : undefined,
    labels: alert.labels,
    url: alert.panelURL || alert.dashboardURL || alert.generatorURL || '',
    runbookUrl: alert.annotations.runbook_url ?? alert.annotations.runbook ?? '',
    silenceURL: alert.silenceURL,
    // Alertmanager always sends one; without it the label set identifies the alert, as in Alertmanager.
    fingerprint: alert.fingerprint ?? createHash('sha1').update(JSON.stringify(Object.entries(alert.labels).sort())).digest('hex').slice(0, 16),
  };
}

function sortForDisplay(alerts: NormalizedAlert[]): NormalizedAlert[] {
  return alerts.map((alert, index) => ({ alert, index })).sort((a, b) => rank(a.alert) - rank(b.alert) || a.index - b.index).map(({ alert }) => alert);
}

/** The group's name: its common alertname, else the first few names. */
function titleOf(commonLabels: Record<string, string>, alerts: NormalizedAlert[]): string {
  if (commonLabels.alertname) return commonLabels.alertname;
  const names = [...new Set(alerts.map((a) => a.name))];
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} +${names.length - 3}`;
}

/**
 * Alertmanager's UI opens a prefilled silence from matchers in `filter`
 * (`#/silences/new?filter={alertname="X",job="y"}`): the group's labels, which
 * match every alert of the group and only those of its kind.
 */
export function silenceLink(externalURL: string, matchLabels: Record<string, string>): string | undefined {
  if (!/^https?:\/\//.test(externalURL) || Object.keys(matchLabels).length === 0) return undefined;
  const matchers = Object.entries(matchLabels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  return `${externalURL.replace(/\/+$/, '')}/#/silences/new?filter=${encodeURIComponent(`{${matchers.join(',')}}`)}`;
}

export function fromAlertmanager(payload: z.infer<typeof alertmanagerSchema>): Notification {
  const alerts = sortForDisplay(payload.alerts.map(normalizeAlert));
  // group_by: [...] (group by all labels) or no grouping leaves groupLabels empty: the common labels still narrow it.
  const matchLabels = Object.keys(payload.groupLabels).length > 0 ? payload.groupLabels : payload.commonLabels;
  return {
    source: 'alertmanager',
    receiver: payload.receiver,
    groupKey: payload.groupKey,
    status: payload.status,
    title: titleOf(payload.commonLabels, alerts),
    commonLabels: payload.commonLabels,
    alerts,
    truncated: payload.truncatedAlerts,
    externalURL: payload.externalURL,
    silenceURL: silenceLink(payload.externalURL, matchLabels),
  };
}

export function fromGrafana(payload: z.infer<typeof grafanaSchema>): Notification {
  const alerts = sortForDisplay(payload.alerts.map(normalizeAlert));
  return {
    source: 'grafana',
    receiver: payload.receiver,
    groupKey: payload.groupKey || alerts.map((a) => a.fingerprint).sort().join(','),
    status: payload.status,
    title: titleOf(payload.commonLabels, alerts),
    commonLabels: payload.commonLabels,
    alerts,
    truncated: payload.truncatedAlerts,
    externalURL: payload.externalURL,
    // Grafana builds a silence link per alert; the first shown alert's is the one most worth silencing.
    silenceURL: alerts.map((a) => a.silenceURL).find((u) => u !== undefined && /^https?:\/\//.test(u)),
  };
}

/**
 * Same group, same status, same alerts (fingerprint, start and status): the same
 * notification. Alertmanager sends it again when our answer got lost (its
 * retries) and for repeat_interval reminders; storm control tells them apart
 * by time.
 */
export function notificationKey(n: Notification): string {
  const alerts = n.alerts.map((a) => `${a.fingerprint}@${a.startsAt}:${a.status}`).sort();
  return `${n.source}-${createHash('sha256').update(JSON.stringify([n.groupKey, n.status, alerts, n.truncated])).digest('hex').slice(0, 32)}`;
}
