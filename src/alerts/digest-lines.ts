import { membersOf, type Recipients } from '../messages/recipients';
import { byteLength } from '../wecom/limits';
import { shortTime } from './alert-data';

/** Bytes of a digest's alert lines: within WeCom's 2048 for an app message (4096 for a robot's markdown), with room for the heading. */
const LINES_BUDGET = { members: 1_500, groups: 3_500 };
/** What a template adds around one line's facts (quote mark, font tag, sign, separators), counted generously. */
const LINE_MARKUP = 64;
/** One line's list of key values, e.g. `web-001, web-002, … web-250`. */
const VALUES_BUDGET = 160;
/** Fields of a digest's fold join their parts with the unit separator (redis/lua/foldIntoDigest-3.lua). */
export const SEPARATOR = '\x1f';

/** One alertname's line of a digest: `HostHighLoad ×240: web-001, web-002, … web-250`. */
export interface DigestLine {
  name: string;
  /** Its alerts in the digest. */
  count: number;
  /** Its key label values, as many as fit, the last one after `…`. */
  values: string;
  /** How many distinct values it had. */
  distinct: number;
  /** Its earliest startsAt, in ALERT_TIMEZONE (the date too when not today); null when no alert said. */
  since: string | null;
}

/**
 * What a digest folded, as foldIntoDigest-3.lua keeps it: `counts` (`notifications`, and per
 * status␟alertname its alerts), `members` (status␟alertname␟key value), `since` (status␟alertname -> earliest ms).
 */
export interface Fold {
  counts: Record<string, string>;
  members: string[];
  since: Record<string, string>;
}

const natural = new Intl.Collator('en', { numeric: true });

/** `web-001, web-002, … web-250`: values in natural order, as many as fit `budget` bytes, the last one always shown. */
export function valuesLine(values: string[], budget = VALUES_BUDGET): string {
  const sorted = [...values].sort(natural.compare);
  if (byteLength(sorted.join(', ')) <= budget) return sorted.join(', ');
  const last = sorted[sorted.length - 1];
  const shown: string[] = [];
  for (const value of sorted.slice(0, -1)) {
    if (byteLength([...shown, value].join(', ') + `, … ${last}`) > budget) break;
    shown.push(value);
  }
  return `${shown.join(', ')}${shown.length > 0 ? ', ' : ''}… ${last}`;
}

/**
 * A fold as the digest templates' data (alert.digest): per status its lines, the
 * biggest first, as many as the smallest destination of `to` allows; the alertnames
 * left out are counted in `more`. Undefined when nothing was folded.
 */
export function digestOf(fold: Fold, to: Recipients, timeZone: string, now: number) {
  const { counts, members, since } = fold;
  const notifications = Number(counts.notifications ?? 0);
  if (notifications === 0) return undefined;
  const values = new Map<string, string[]>();
  for (const member of members) {
    const [status, name, value] = member.split(SEPARATOR);
    const field = `${status}${SEPARATOR}${name}`;
    values.set(field, [...(values.get(field) ?? []), value]);
  }
  const linesOf = (status: string): DigestLine[] =>
    Object.entries(counts)
      .filter(([field]) => field.startsWith(`${status}${SEPARATOR}`) && field !== `${status}${SEPARATOR}`)
      .map(([field, count]) => ({
        name: field.slice(status.length + 1),
        count: Number(count),
        values: valuesLine(values.get(field) ?? []),
        distinct: values.get(field)?.length ?? 0,
        since: since[field] ? shortTime(Number(since[field]), timeZone, now) : null,
      }))
      .sort((a, b) => b.count - a.count || natural.compare(a.name, b.name));
  let budget = membersOf(to) ? LINES_BUDGET.members : LINES_BUDGET.groups;
  const fit = (lines: DigestLine[]) =>
    lines.filter((line) => {
      budget -= byteLength(`${line.name}${line.count}${line.values}${line.since ?? ''}`) + LINE_MARKUP;
      return budget >= 0;
    });
  const [allFiring, allResolved] = [linesOf('firing'), linesOf('resolved')];
  const [firing, resolved] = [fit(allFiring), fit(allResolved)];
  const unnamed = (status: string) => Number(counts[`${status}${SEPARATOR}`] ?? 0);
  const more =
    allFiring.length - firing.length + allResolved.length - resolved.length + (unnamed('firing') + unnamed('resolved') > 0 ? 1 : 0);
  return { count: notifications, firing, resolved, more: more > 0 ? more : null };
}
