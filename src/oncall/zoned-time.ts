/** Wall-clock times in an IANA zone, with nothing but Intl: a local date and time to its instant, and back. */

export interface LocalTime {
  year: number;
  /** 1-12 */
  month: number;
  /** May run past the month's end (day 32 is the next month's 1st), as Date.UTC allows. */
  day: number;
  hour: number;
  minute: number;
}

/** A time of day as the config file writes it (`09:00`, `23:30`): hours and minutes captured. */
export const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** `23:30` -> 1410: minutes after midnight of a checked time of day. */
export function minutesOfDay(hhmm: string): number {
  const [, hours, minutes] = TIME_OF_DAY.exec(hhmm)!;
  return Number(hours) * 60 + Number(minutes);
}

const formats = new Map<string, Intl.DateTimeFormat>();

function formatOf(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(timeZone, format);
  }
  return format;
}

/** The zone's wall clock at `ms`. */
export function localTimeOf(ms: number, timeZone: string): LocalTime & { second: number } {
  const parts = Object.fromEntries(
    formatOf(timeZone)
      .formatToParts(new Date(ms))
      .map((p) => [p.type, Number(p.value)]),
  );
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second };
}

/** How far the zone's wall clock is ahead of UTC at `ms`. */
function offsetAt(ms: number, timeZone: string): number {
  const t = localTimeOf(ms, timeZone);
  const wall = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant the zone's clocks show `local`. A time skipped by a daylight-saving
 * change (02:30 on the March change in Berlin) is taken as the same time after it
 * (03:30); a time shown twice (the autumn change) is one of its two showings.
 */
export function instantOf(local: LocalTime, timeZone: string): number {
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const first = offsetAt(asUtc, timeZone);
  const guess = asUtc - first;
  const second = offsetAt(guess, timeZone);
  if (second === first) return guess;
  const retry = asUtc - second;
  // In a skipped hour neither offset lands on the wall time asked: the later offset moves it forward.
  return offsetAt(retry, timeZone) === second ? retry : asUtc - Math.min(first, second);
}

/** The calendar date `days` after year-month-day (in no zone: plain calendar arithmetic). */
export function addDays(date: Pick<LocalTime, 'year' | 'month' | 'day'>, days: number): Pick<LocalTime, 'year' | 'month' | 'day'> {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}
