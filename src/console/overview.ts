import { escapeHtml } from '../ops/html';
import type { StringKey, Translate } from './locale';
import type { MinuteSeries } from './minute-series';
import { table } from './page';
import { WELCOME_CODE_WINDOW_MS } from '../wecom/limits';

/** WeCom's window for a welcome message, as the chart labels it. */
export const WELCOME_WINDOW_SECONDS = WELCOME_CODE_WINDOW_MS / 1000;

type Minutes = Awaited<ReturnType<MinuteSeries['lastHour']>>;
/** What minute-series.ts counts per sink. */
type SyncOutcome = 'delivered' | 'retried' | 'dead-lettered';

/** The values of every field starting with `kind|`, one line per rest of the name. */
function linesOf(hour: Minutes, kind: string): Record<string, number[]> {
  const names = new Set(hour.values.flatMap((v) => Object.keys(v).filter((k) => k.startsWith(`${kind}|`))));
  return Object.fromEntries([...names].sort().map((name) => [name.slice(kind.length + 1), hour.values.map((v) => v[name] ?? 0)]));
}

/** A quantile read off one minute's cumulative buckets (the bucket's upper bound, as Prometheus' histogram_quantile would at its edge). */
function quantile(buckets: [number, number][], q: number): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const hit = buckets.find(([, count]) => count >= q * total);
  return hit && Number.isFinite(hit[0]) ? hit[0] : (buckets.at(-2)?.[0] ?? null);
}

function welcomeLines(hour: Minutes): { p50: (number | null)[]; p99: (number | null)[]; count: number[] } {
  const perMinute = hour.values.map((v) =>
    Object.entries(v)
      .filter(([k]) => k.startsWith('welcome|le|'))
      .map(([k, count]) => [k.endsWith('+Inf') ? Infinity : Number(k.slice('welcome|le|'.length)), count] as [number, number])
      .sort((a, b) => a[0] - b[0]),
  );
  return {
    p50: perMinute.map((b) => quantile(b, 0.5)),
    p99: perMinute.map((b) => quantile(b, 0.99)),
    count: perMinute.map((b) => b.at(-1)?.[1] ?? 0),
  };
}

/** What the overview's charts draw (public/console/overview.js): the last hour, per minute. */
export async function chartData(series: MinuteSeries) {
  await series.sample();
  const hour = await series.lastHour();
  const messages: Record<string, number[]> = {};
  for (const kind of ['accepted', 'sent', 'failed']) {
    for (const [event, values] of Object.entries(linesOf(hour, kind))) messages[`${kind} · ${event}`] = values;
  }
  return {
    minutes: hour.minutes,
    messages,
    errcodes: linesOf(hour, 'errcode'),
    queues: linesOf(hour, 'queue'),
    welcome: { ...welcomeLines(hour), windowSeconds: WELCOME_WINDOW_SECONDS },
    callbacks: linesOf(hour, 'callback'),
    sync: linesOf(hour, 'sync'),
  };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * Callbacks by outcome and pushes per sink over the hour, for the table under
 * the charts (callback outcomes are the metric's labels, as in Grafana).
 */
export function hourTotals(data: Awaited<ReturnType<typeof chartData>>, t: Translate): string {
  const callbacks = Object.entries(data.callbacks).map(
    ([outcome, values]) => `<tr><td>${escapeHtml(t('hour.callback'))}</td><td>${escapeHtml(outcome)}</td><td>${sum(values)}</td></tr>`,
  );
  const sync = Object.entries(data.sync).map(([name, values]) => {
    const [sink, outcome] = name.split('|') as [string, SyncOutcome];
    return (
      `<tr class="${outcome === 'dead-lettered' ? 'failed' : ''}"><td>${escapeHtml(t('hour.sync', { sink }))}</td>` +
      `<td>${escapeHtml(t(`hour.${outcome}`))}</td><td>${sum(values)}</td></tr>`
    );
  });
  return table([t('hour.what'), t('hour.outcome'), t('hour.total')], [...callbacks, ...sync], t('hour.none'));
}

/** The overview's charts: their ids (public/console/overview.js draws each) and titles. */
export const CHARTS: { id: string; title: StringKey; vars?: Record<string, number> }[] = [
  { id: 'messages', title: 'chart.messages' },
  { id: 'errcodes', title: 'chart.errcodes' },
  { id: 'queues', title: 'chart.queues' },
  { id: 'welcome', title: 'chart.welcome', vars: { seconds: WELCOME_WINDOW_SECONDS } },
];
