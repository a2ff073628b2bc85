import { alertTime, type NormalizedAlert, type Notification } from './payloads';

/**
 * What the alert templates receive (alert.notification, alert.digest): the
 * notification's facts as data, never as sentences, so that every word people
 * read comes from a template (Chinese by default, English shipped beside it).
 */
export interface AlertDataSettings {
  timeZone: string;
  /** Alerts listed in one message; the rest become "+N more". */
  maxAlertsPerMessage: number;
  /** The label that tells an alert apart from its group's others: the first of these it carries (ALERT_KEY_LABELS). */
  keyLabels: string[];
}

/** The alert's key label and its value (`instance`, `db1:9100`), or undefined when it carries none of them. */
export function keyOf(labels: Record<string, string>, keyLabels: string[]): { label: string; value: string } | undefined {
  const label = keyLabels.find((name) => labels[name]);
  return label ? { label, value: labels[label] } : undefined;
}

/** `2026-11-24 10:00:00` in the alert time zone (an impossible time is shown as written). */
export function fullTime(iso: string, timeZone: string): string {
  const ms = alertTime(iso);
  return ms === undefined
    ? iso
    : new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ms));
}

/** `20:13` today, `12-02 20:13` this year, `2025-12-02 20:13` before: the time, with the date when it is not today. */
export function shortTime(ms: number, timeZone: string, now: number): string {
  const day = (at: number) => new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short' }).format(new Date(at));
  const time = new Intl.DateTimeFormat('sv-SE', { timeZone, timeStyle: 'short' }).format(new Date(ms));
  const [date, today] = [day(ms), day(now)];
  if (date === today) return time;
  return date.slice(0, 4) === today.slice(0, 4) ? `${date.slice(5)} ${time}` : `${date} ${time}`;
}

/** A span as the templates' `lasted` partial words it: days and hours, or hours and minutes, or minutes (at least 1). */
export function span(ms: number): { days: number; hours: number; minutes: number } {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  const hours = Math.floor(minutes / 60);
  if (hours >= 24) return { days: Math.floor(hours / 24), hours: hours % 24, minutes: 0 };
  return { days: 0, hours, minutes: minutes % 60 };
}

/** When the group began: its alerts' earliest startsAt (the time the gateway heard of it only when none has one). */
export function firstStart(alerts: Pick<NormalizedAlert, 'startsAt'>[], fallback: number): number {
  const starts = alerts.map((a) => alertTime(a.startsAt)).filter((t): t is number => t !== undefined);
  return starts.length > 0 ? Math.min(...starts) : fallback;
}

/** When a resolved group ended: its alerts' latest endsAt (now, when none says). */
export function lastEnd(alerts: Pick<NormalizedAlert, 'endsAt'>[], fallback: number): number {
  const ends = alerts.map((a) => alertTime(a.endsAt)).filter((t): t is number => t !== undefined);
  return ends.length > 0 ? Math.max(...ends) : fallback;
}

/** A notification's own times, for a message no followed group stands behind: since its first start, and (resolved) until its last end. */
export function notificationTimes(n: Pick<Notification, 'status' | 'alerts'>, timeZone: string, now: number) {
  return timesData(firstStart(n.alerts, now), n.status === 'resolved' ? lastEnd(n.alerts, now) : undefined, timeZone, now);
}

/** The time fields: `since` (the group's first start) and, once it ended, how long it `lasted`. */
export function timesData(since: number, endedAt: number | undefined, timeZone: string, now: number) {
  return { since: shortTime(since, timeZone, now), lasted: endedAt === undefined ? null : span(endedAt - since) };
}

export type LinkKind = 'generator' | 'grafana' | 'runbook';
const LINK_KINDS: LinkKind[] = ['generator', 'grafana', 'runbook'];

/** The group's links, one of each kind (the first alert that has it): the card's link buttons, the robots' link line. */
function groupLinks(n: Notification): { kind: LinkKind; url: string }[] {
  return LINK_KINDS.flatMap((kind) => {
    const url = n.alerts.find((a) => a.links[kind])?.links[kind];
    return url ? [{ kind, url }] : [];
  });
}

const HIDDEN_LABELS = new Set(['alertname', 'severity']);

/**
 * The notification as template data, without the times (a group's are its own:
 * `timesData`). Labels and annotations are objects (`{{labels.instance}}`);
 * `labelsText` is the labels but name and severity as one line.
 */
export function notificationData(n: Notification, settings: AlertDataSettings) {
  const shown = n.alerts.slice(0, settings.maxAlertsPerMessage);
  const firing = n.status === 'firing';
  const more = n.alerts.length - shown.length + n.truncated;
  const links = groupLinks(n);
  const sameName = new Set(n.alerts.map((a) => a.name)).size === 1;
  const description =
    n.commonAnnotations.description ??
    (sameName && n.alerts.every((a) => a.description === n.alerts[0].description) ? n.alerts[0].description : '');
  return {
    source: n.source,
    status: n.status,
    title: n.title,
    count: n.alerts.length + n.truncated,
    alerts: shown.map((a) => {
      const key = keyOf(a.labels, settings.keyLabels);
      return {
        status: a.status,
        name: a.name,
        severity: a.severity,
        summary: a.summary,
        description: a.description,
        value: a.value,
        startsAt: fullTime(a.startsAt, settings.timeZone),
        endsAt: a.endsAt ? fullTime(a.endsAt, settings.timeZone) : null,
        labels: a.labels,
        labelsText: Object.entries(a.labels)
          .filter(([k]) => !HIDDEN_LABELS.has(k))
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        annotations: a.annotations,
        values: a.values ?? null,
        key: key?.value ?? a.name,
        keyLabel: key?.label ?? null,
        url: /^https?:\/\//.test(a.url) ? a.url : '',
        fingerprint: a.fingerprint,
      };
    }),
    more: more > 0 ? more : null,
    /** All alerts share one name: a card's items need only their key. */
    sameName,
    /** The description every alert shares (one alert's own): the card shows it once. */
    description: description || null,
    /** The one alert's value (a group of several shows each alert's). */
    value: n.alerts.length === 1 && n.alerts[0].value ? n.alerts[0].value : null,
    severity: n.commonLabels.severity ?? n.alerts[0]?.severity ?? 'unknown',
    links,
    // Markdown links each alert's source already: its link line holds the rest.
    otherLinks: links.filter((link) => !shown.some((a) => a.url === link.url)),
    // Nothing to silence once resolved.
    silenceUrl: firing ? (n.silenceURL ?? null) : null,
    // The card button opens what the alert is about (its panel, dashboard or
    // graph), then the monitoring UI, and only then the silence page.
    url:
      [...n.alerts.map((a) => a.url), n.externalURL, firing ? n.silenceURL : undefined].find((u) => u && /^https?:\/\//.test(u)) ??
      'https://work.weixin.qq.com/',
  };
}

export type NotificationData = ReturnType<typeof notificationData>;

/**
 * The labels every alert of the notification really carries, with the same value:
 * what a silence may match. Never the payload's commonLabels, which a sender may
 * write as it likes (claiming `severity: critical` alone would silence every critical alert).
 */
export function sharedLabels(n: Pick<Notification, 'alerts'>): Record<string, string> {
  const [first, ...rest] = n.alerts;
  if (!first) return {};
  return Object.fromEntries(
    Object.entries(first.labels).filter(([name, value]) => value !== '' && rest.every((a) => a.labels[name] === value)),
  );
}

/** One notification as a storm digest counts it: its status, and each alert's name, key label value and start (ms). */
export interface FoldItem {
  status: 'firing' | 'resolved';
  alerts: { name: string; value: string; startsAt?: number }[];
}

/** The notification as a storm digest counts it: its status, and each alert's name and key label value. */
export function foldItemOf(n: Notification, keyLabels: string[]): FoldItem {
  return {
    status: n.status,
    alerts: n.alerts.map((a) => ({
      name: a.name,
      value: keyOf(a.labels, keyLabels)?.value ?? '',
      ...(alertTime(a.startsAt) ? { startsAt: alertTime(a.startsAt) } : {}),
    })),
  };
}
