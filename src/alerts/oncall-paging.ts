import type { Logger } from 'pino';
import { whoIsOnCall, type OnCallDirectory } from '../messages/oncall-recipients';
import type { Recipients } from '../messages/recipients';
import type { AlertGroups, Destination } from './alert-groups';
import type { AlertJobs } from './alert-jobs';
import type { EscalationLevel } from './escalation-config';

/**
 * Alert groups paging on-call schedules: a gap in a schedule at escalation time (a
 * level whose only recipients are schedules with nobody on call, nor a fallback, would
 * page nobody, so the group goes on to the next level at once, and its timeline says
 * why); and who was on call when a card went out, so their text `ack` finds the group.
 */
export interface OnCallPagingDeps {
  groups: AlertGroups;
  jobs: AlertJobs;
  oncall?: OnCallDirectory;
  logger: Logger;
  clock: () => number;
}

/** The schedules of `to` when they are all it names and nobody is on call on any of them; else undefined. */
export async function nobodyOnCall(directory: OnCallDirectory | undefined, to: Destination, at: number): Promise<string[] | undefined> {
  const { oncall, ...others } = to;
  if (!oncall?.length || Object.values(others).some((list) => list?.length)) return undefined;
  const { users } = await whoIsOnCall(directory, oncall, at);
  return users.length === 0 ? oncall : undefined;
}

/**
 * Level `level` of `levels` pages nobody now: the group moves past it (as if it had
 * been paged), noted as escalated with the reason, and the next level runs at once.
 * False when the level reaches someone and goes out as usual.
 */
export async function skippedForNobodyOnCall(deps: OnCallPagingDeps, groupId: string, level: number, levels: EscalationLevel[]) {
  const schedules = await nobodyOnCall(deps.oncall, levels[level - 1].to, deps.clock());
  if (!schedules) return false;
  if (!(await deps.groups.transition(groupId, { status: ['firing'], level: [String(level - 1)] }, { level }))) return true;
  const next = levels[level] ? `level ${level + 1} at once` : 'no further level';
  const detail = `nobody on call for ${schedules.join(', ')}: ${next}`;
  await deps.groups.timeline.note(groupId, { kind: 'escalated', level, to: schedules.map((s) => `on call ${s}`).join(', '), detail });
  deps.logger.error({ alert: groupId, level, oncall: schedules }, `alert escalation: ${detail}`);
  if (levels[level]) await deps.jobs.add({ kind: 'escalate', groupId, level: level + 1 });
  return true;
}

/**
 * A card or message to on-call schedules: whoever is on call when it is sent counts as
 * having received it, so a text `ack` of theirs finds the group (text-ack.ts).
 */
export async function noteOnCallReceivers(
  deps: Pick<OnCallPagingDeps, 'groups' | 'oncall'>,
  groupId: string,
  to: Recipients,
  sentAt: number,
): Promise<void> {
  if (to === '@all' || !to.oncall?.length) return;
  const { users } = await whoIsOnCall(deps.oncall, to.oncall, sentAt);
  await deps.groups.received.note(groupId, users, sentAt);
}
