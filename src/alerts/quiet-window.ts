import { z } from 'zod';

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DAY_MS = 86_400_000;

/**
 * A route's quiet hours (`quietHours:` of an alert route): from `from` to `to` in
 * ALERT_TIMEZONE, notifications of severities not in `except` are held and go out
 * as one digest at `to`. `from` after `to` spans midnight; equal times are no window.
 */
export const quietHoursSchema = z
  .object({
    from: z.string().regex(HHMM, 'a time of day as HH:MM (e.g. "23:00")'),
    to: z.string().regex(HHMM, 'a time of day as HH:MM (e.g. "08:00")'),
    /** Severities that pass at once (default: critical). */
    except: z.array(z.string().min(1)).default(['critical']),
  })
  .strict()
  .refine((q) => q.from !== q.to, { path: ['to'], message: 'must differ from quietHours.from (equal times make no quiet time)' });

export type QuietHours = z.infer<typeof quietHoursSchema>;

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The wall clock of `ms` in `timeZone`, as if it were UTC (its date parts and time of day). */
function wallClock(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(ms));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second')) + (ms % 1000);
}

/** The instant whose wall clock in `timeZone` is `wall` (a zone's offset read twice, so a change of offset between is followed). */
function instantOf(wall: number, timeZone: string, near: number): number {
  const guess = wall - (wallClock(near, timeZone) - near);
  return wall - (wallClock(guess, timeZone) - guess);
}

/**
 * When the quiet time `now` falls in ends (the next `to`, ms), or undefined when
 * `now` is outside it. `from` is inclusive, `to` exclusive: at 08:00 sharp it is over.
 */
export function quietUntil(window: Pick<QuietHours, 'from' | 'to'>, timeZone: string, now: number): number | undefined {
  const wall = wallClock(now, timeZone);
  const intoDay = ((wall % DAY_MS) + DAY_MS) % DAY_MS;
  const [from, to] = [minutesOf(window.from) * 60_000, minutesOf(window.to) * 60_000];
  const inside = from < to ? intoDay >= from && intoDay < to : intoDay >= from || intoDay < to;
  if (!inside) return undefined;
  // Today's `to` when it is still ahead, else tomorrow's (a window across midnight, before it).
  const day = wall - intoDay + (intoDay < to ? 0 : DAY_MS);
  return instantOf(day + to, timeZone, now);
}
