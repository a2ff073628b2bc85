import { z } from 'zod';
import { addDays, instantOf, localTimeOf, minutesOfDay, TIME_OF_DAY } from '../oncall/zoned-time';

/**
 * A route's quiet hours (`quietHours:` of an alert route): from `from` to `to` in
 * ALERT_TIMEZONE, notifications of severities not in `except` are held and go out
 * as one digest at `to`. `from` after `to` spans midnight; equal times are no window.
 */
export const quietHoursSchema = z
  .object({
    from: z.string().regex(TIME_OF_DAY, 'a time of day as HH:MM (e.g. "23:00")'),
    to: z.string().regex(TIME_OF_DAY, 'a time of day as HH:MM (e.g. "08:00")'),
    /** Severities that pass at once (default: critical). */
    except: z.array(z.string().min(1)).default(['critical']),
  })
  .strict()
  .refine((q) => q.from !== q.to, { path: ['to'], message: 'must differ from quietHours.from (equal times make no quiet time)' });

export type QuietHours = z.infer<typeof quietHoursSchema>;

/** How long the quiet time lasts, in minutes (across midnight when `to` comes first). */
export function quietMinutes({ from, to }: Pick<QuietHours, 'from' | 'to'>): number {
  return (((minutesOfDay(to) - minutesOfDay(from)) % 1440) + 1440) % 1440 || 1440;
}

/**
 * When the quiet time `now` falls in ends (the next `to`, ms), or undefined when
 * `now` is outside it. `from` is inclusive, `to` exclusive: at 08:00 sharp it is over.
 */
export function quietUntil(window: Pick<QuietHours, 'from' | 'to'>, timeZone: string, now: number): number | undefined {
  const local = localTimeOf(now, timeZone);
  const intoDay = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 + (now % 1000);
  const [from, to] = [minutesOfDay(window.from) * 60_000, minutesOfDay(window.to) * 60_000];
  const inside = from < to ? intoDay >= from && intoDay < to : intoDay >= from || intoDay < to;
  if (!inside) return undefined;
  // Today's `to` when it is still ahead, else tomorrow's (a window across midnight, before it).
  const day = addDays(local, intoDay < to ? 0 : 1);
  return instantOf({ ...day, hour: Math.floor(to / 3_600_000), minute: (to / 60_000) % 60 }, timeZone);
}
