import { shiftStart } from './rotation';
import { rotationOf, type OnCallSchedule } from './schedule-config';

/** Whether a userid is a member the contact mirror knows; absent when contact sync is off. */
export type MemberCheck = (userId: string) => Promise<boolean>;

const localStart = (s: OnCallSchedule) => `${s.rotation.start} ${s.rotation.handoff} (${s.timezone})`;

/**
 * What start-up warns about, without stopping: a schedule that has nobody on call
 * before its start, and rotation users the contact mirror does not know (or one
 * line saying they could not be checked).
 */
export async function scheduleWarnings(schedules: OnCallSchedule[], now: number, isMember?: MemberCheck): Promise<string[]> {
  const warnings: string[] = [];
  for (const s of schedules) {
    if (shiftStart(rotationOf(s), 0) > now) {
      const paged = s.fallback?.length ? `its fallback (${s.fallback.join(', ')}) is paged` : 'it has no fallback, so nobody is paged';
      warnings.push(`oncall ${s.name}: nobody is on call before ${localStart(s)}: ${paged} until then`);
    }
  }
  const users = [...new Set(schedules.flatMap((s) => [...s.rotation.users, ...(s.fallback ?? [])]))];
  if (users.length === 0) return warnings;
  if (!isMember) {
    warnings.push(
      `oncall: the users of the schedules could not be checked (contact sync is off): ${users.join(', ')} are taken as they are`,
    );
    return warnings;
  }
  for (const s of schedules) {
    const named = [...s.rotation.users, ...(s.fallback ?? [])];
    const known = await Promise.all(named.map(isMember));
    const unknown = named.filter((_, i) => !known[i]);
    if (unknown.length > 0) warnings.push(`oncall ${s.name}: not in the contact mirror: ${unknown.join(', ')} (a userid misspelt?)`);
  }
  return warnings;
}
