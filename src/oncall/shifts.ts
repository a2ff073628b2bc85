import { rotationShiftAt, shiftStart, type Shift } from './rotation';
import type { Rotation } from './schedule-config';

/** An override: `user` is on call from `from` until `until` (ms), whatever the rotation says. */
export interface Override {
  id: string;
  user: string;
  from: number;
  until: number;
}

/**
 * Who is on call at `at`: an override covering it (whole), else the rotation's
 * shift, cut where overrides begin or end inside it; undefined when nobody is.
 */
export function shiftAt(rotation: Rotation, overrides: Override[], at: number): Shift | undefined {
  const covering = overrides.find((o) => o.from <= at && at < o.until);
  if (covering) return { user: covering.user, since: covering.from, until: covering.until, override: covering.id };
  const base = rotationShiftAt(rotation, at);
  if (!base) return undefined;
  let { since, until } = base;
  for (const o of overrides) {
    if (o.until <= at && o.until > since) since = o.until;
    if (o.from > at && o.from < until) until = o.from;
  }
  return { user: base.user, since, until };
}

/** The first shift to begin after `at` (a handoff), or undefined when none will. */
export function nextShift(rotation: Rotation, overrides: Override[], at: number): Shift | undefined {
  const current = shiftAt(rotation, overrides, at);
  if (current) return shiftAt(rotation, overrides, current.until);
  // Nobody on call now: the rotation's first shift or an override begins it.
  const starts = [shiftStart(rotation, 0), ...overrides.map((o) => o.from)].filter((t) => t > at);
  return starts.length > 0 ? shiftAt(rotation, overrides, Math.min(...starts)) : undefined;
}

/** The shift at `at` and the `count` shifts after it, overrides splitting the rotation's shifts. */
export function shiftsFrom(rotation: Rotation, overrides: Override[], at: number, count: number): { now?: Shift; next: Shift[] } {
  const now = shiftAt(rotation, overrides, at);
  const next: Shift[] = [];
  let after = at;
  while (next.length < count) {
    const shift = nextShift(rotation, overrides, after);
    if (!shift) break;
    next.push(shift);
    after = shift.since;
  }
  return { now, next };
}

/** The override [from, until) would overlap, if any. */
export function overlapOf(overrides: Override[], from: number, until: number): Override | undefined {
  return overrides.find((o) => o.from < until && from < o.until);
}
