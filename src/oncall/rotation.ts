import type { Rotation } from './schedule-config';
import { addDays, instantOf } from './zoned-time';

/** A stretch of time one person is on call; `override`: the id of the override that put them there. */
export interface Shift {
  user: string;
  since: number;
  until: number;
  override?: string;
}

const DAY_MS = 86_400_000;

/**
 * When shift k begins: `start` plus k×every days on the schedule's calendar, at
 * `handoff` local time. So a zone with daylight saving keeps its handoff at 09:00
 * across the change (that shift is an hour shorter or longer), and Asia/Shanghai's
 * shifts are all alike.
 */
export function shiftStart(rotation: Rotation, k: number): number {
  const date = addDays(rotation.start, k * rotation.days);
  return instantOf({ ...date, hour: rotation.hour, minute: rotation.minute }, rotation.timeZone);
}

/** The rotation's shift at `at`; undefined before its first shift begins. */
export function rotationShiftAt(rotation: Rotation, at: number): Shift | undefined {
  const first = shiftStart(rotation, 0);
  if (at < first) return undefined;
  // A guess from the average length, corrected by the real boundaries (a DST day is 23 or 25 hours).
  let k = Math.floor((at - first) / (rotation.days * DAY_MS));
  while (k > 0 && shiftStart(rotation, k) > at) k--;
  while (shiftStart(rotation, k + 1) <= at) k++;
  return { user: rotation.users[k % rotation.users.length], since: shiftStart(rotation, k), until: shiftStart(rotation, k + 1) };
}
