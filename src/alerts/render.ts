import { byteLength, TRUNCATION_MARK, truncateUtf8 } from '../wecom/message-limits';
import type { NormalizedAlert, Notification } from './payloads';

/**
 * What the alert templates (templates/alert.notification.yaml, alert.digest.yaml)
 * receive, and how many alerts fit in one WeCom message.
 */

export type AlertMsgtype = 'markdown' | 'text' | 'textcard';

/** One shown alert. Every key is always present (null when empty): the templates run in Handlebars strict mode. */
export interface AlertView {
  status: 'firing' | 'resolved';
  name: string;
  severity: string;
  summary: string;
  description: string | null;
  startsAt: string;
  endsAt: string | null;
  /** The labels that tell this alert apart from the group's (the common ones are shown once). */
  labels: string | null;
  url: string | null;
  runbookUrl: string | null;
}

export interface NotificationData {
  source: string;
  status: string;
  statusText: string;
  title: string;
  count: number;
  commonLabels: string | null;
  alerts: AlertView[];
  more: number | null;
  silenceUrl: string | null;
  url: string;
  [key: string]: unknown;
}

// Per-alert caps, so that one long description cannot push every other alert
// (and the "+N more" line) past WeCom's limit of the whole message.
const SUMMARY_BYTES = 200;
const DESCRIPTION_BYTES = 300;
const LABELS_BYTES = 200;
/** Labels that are shown elsewhere (name, severity) or are the sender's internals (`__…`). */
const hiddenLabel = (name: string) => name === 'alertname' || name === 'severity' || name.startsWith('__');

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
const httpUrl = (url: string | undefined) => (url && /^https?:\/\/\S+$/.test(url) ? url : null);

function labelText(labels: Record<string, string>, except: Record<string, string> = {}): string | null {
  const text = Object.entries(labels)
    .filter(([k, v]) => !hiddenLabel(k) && except[k] !== v)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return text === '' ? null : truncateUtf8(text, LABELS_BYTES);
}

/** An ISO time in the configured zone, e.g. `2026-11-24 10:00:00`; anything unparsable is shown as sent. */
export function localTime(iso: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 2000) return iso;
  return new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(date);
}

function alertView(a: NormalizedAlert, commonLabels: Record<string, string>, timeZone: string): AlertView {
  const description = truncateUtf8(oneLine(a.description), DESCRIPTION_BYTES);
  return {
    status: a.status,
    name: a.name,
    severity: a.severity,
    summary: truncateUtf8(oneLine(a.summary), SUMMARY_BYTES),
    description: description === '' ? null : description,
    startsAt: localTime(a.startsAt, timeZone),
    endsAt: a.endsAt ? localTime(a.endsAt, timeZone) : null,
    labels: labelText(a.labels, commonLabels),
    url: httpUrl(a.url),
    runbookUrl: httpUrl(a.runbookUrl),
  };
}

/** The alert.notification data with the first `shown` alerts listed and the rest counted as "+N more". */
export function notificationData(n: Notification, shown: number, timeZone: string): NotificationData {
  const listed = n.alerts.slice(0, shown);
  const count = n.alerts.length + n.truncated;
  const alerts = listed.map((a) => alertView(a, n.commonLabels, timeZone));
  return {
    source: n.source,
    status: n.status,
    statusText: n.status === 'firing' ? '🔥 FIRING' : '✅ RESOLVED',
    title: n.title,
    count,
    commonLabels: labelText(n.commonLabels),
    alerts,
    more: count > listed.length ? count - listed.length : null,
    silenceUrl: httpUrl(n.silenceURL),
    // A textcard has one button: where the first alert comes from, else the sender's UI.
    url: alerts.find((a) => a.url)?.url ?? httpUrl(n.externalURL) ?? httpUrl(n.silenceURL) ?? 'https://work.weixin.qq.com/',
  };
}

/**
 * The field of each message type that lists the alerts, and its limit in UTF-8
 * bytes (WeCom's, applied in wecom/message-limits.ts: cut, ending with "…").
 */
const LIST_FIELD: Record<AlertMsgtype, { field: string; maxBytes: number }> = {
  text: { field: 'content', maxBytes: 2048 },
  markdown: { field: 'content', maxBytes: 2048 },
  textcard: { field: 'description', maxBytes: 512 },
};

/**
 * True when the pipeline had to cut the message: the field ends with the mark
 * within a few bytes of its limit (a textcard cut also drops a partial HTML tag,
 * hence the margin).
 */
export function wasCut(msgtype: AlertMsgtype, body: Record<string, unknown>): boolean {
  const { field, maxBytes } = LIST_FIELD[msgtype];
  const value = body[field];
  return typeof value === 'string' && value.endsWith(TRUNCATION_MARK) && byteLength(value) > maxBytes - 64;
}

/**
 * Lists as many items as fit uncut: a message cut at WeCom's limit would lose its
 * tail ("+N more", the silence link), so items are folded into the count first.
 * `render` is the real template (a custom one per route fits the same way).
 */
export function fitToMessage<T>(msgtype: AlertMsgtype, most: number, build: (shown: number) => T, render: (data: T) => Record<string, unknown>): T {
  for (let shown = most; shown > 1; shown--) {
    const data = build(shown);
    if (!wasCut(msgtype, render(data))) return data;
  }
  return build(Math.min(most, 1));
}

/** One folded notification, as the digest lists it. */
export interface FoldedItem {
  statusText: string;
  title: string;
  count: number;
  /** When it arrived, in the configured zone. */
  at: string;
}

const DIGEST_TITLE_BYTES = 80;

export function foldedItem(data: Pick<NotificationData, 'statusText' | 'title' | 'count'>, at: number, timeZone: string): FoldedItem {
  return { statusText: data.statusText, title: truncateUtf8(data.title, DIGEST_TITLE_BYTES), count: data.count, at: localTime(new Date(at).toISOString(), timeZone).slice(-8) };
}

/** The alert.digest data: `total` notifications folded in a window, the first `shown` of the kept items listed. */
export function digestData(items: FoldedItem[], total: number, windowSeconds: number, shown: number) {
  const listed = items.slice(0, shown);
  return { count: total, windowSeconds, items: listed, more: total > listed.length ? total - listed.length : null };
}
