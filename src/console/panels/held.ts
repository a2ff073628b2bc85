import type { HeldAlert } from '../../alerts/held-alerts';
import { escapeHtml } from '../../ops/html';
import type { ConsoleLocale } from '../locale';
import { table } from '../page';

/** What quiet hours hold now (alerts/held-alerts.ts). */
export interface HeldList {
  list(): Promise<HeldAlert[]>;
}

const HEADERS = ['route', 'alertname', 'key', 'severity', 'status', 'heldAt', 'releaseAt'] as const;

/** The alerts quiet hours hold, each with its route and when it goes out in the route's digest; nothing when none is held. */
export function heldHtml(held: HeldAlert[], { t, time }: ConsoleLocale): string {
  if (held.length === 0) return '';
  const rows = held.map((h) => {
    const key = Object.entries(h.labels).map(([label, value]) => `${label}=${value}`)[0] ?? '';
    const cells = [h.route, h.alertname, key, h.severity, t(`alerts.${h.status}`), time(h.heldAt), time(h.releaseAt)];
    return `<tr>${cells.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`;
  });
  const heading = `<h2>${escapeHtml(t('alerts.held.title', { count: held.length }))}</h2>`;
  return `<div class="held">${heading}${table(
    HEADERS.map((h) => t(`alerts.held.${h}`)),
    rows,
    '',
  )}</div>`;
}
