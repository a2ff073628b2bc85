import { z } from 'zod';
import { ApiError } from '../http/errors';
import { GatewayErrcode } from '../wecom/errcodes';
import type { SendRecipients } from '../wecom/message-payload';
import { namedUsers, withUsers } from '../wecom/recipients';

/**
 * On-call schedules as recipients: `to.oncall` and `mentions.oncall` name schedules,
 * kept as names with the message and turned into users only when a part is sent, so
 * a part that waited (a budget, a retry, a pause) goes to whoever is on call when it
 * leaves, not to whoever was when it was accepted.
 */

/** Who is on call, as the messages read it; the real one is oncall/on-call.ts, wired by gateway.ts. */
export interface OnCallDirectory {
  has(name: string): boolean;
  /** Override first, else the rotation, else the schedule's fallback users; [] when nobody at all. */
  usersOnCall(name: string, at?: number): Promise<string[]>;
}

export const scheduleName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an on-call schedule name (oncall: in the config file)');

/** An unknown schedule is the caller's mistake, named at POST time (`to.oncall.0`) with nothing queued. */
export function requireSchedules(names: string[] | undefined, field: string, directory: Pick<OnCallDirectory, 'has'> | undefined): void {
  const unknown = (names ?? []).map((name, i) => [name, i] as const).filter(([name]) => !directory?.has(name));
  if (unknown.length === 0) return;
  const configured = directory ? 'GET /v1/oncall/{name} reads a configured one' : 'none is configured (oncall: in the config file)';
  throw new ApiError(
    404,
    'unknown_oncall',
    `unknown on-call schedule ${unknown.map(([name]) => name).join(', ')} (${configured})`,
    unknown.map(([name, i]) => ({ field: `${field}.${i}`, message: `no on-call schedule is named ${name}` })),
  );
}

/** Whoever is on call at `at` on each schedule, each once; `nobody`: the schedules with nobody on call (nor a fallback). */
export async function whoIsOnCall(
  directory: OnCallDirectory | undefined,
  schedules: string[],
  at: number,
): Promise<{ users: string[]; nobody: string[] }> {
  const found = await Promise.all(schedules.map(async (name) => (directory?.has(name) ? directory.usersOnCall(name, at) : [])));
  return { users: [...new Set(found.flat())], nobody: schedules.filter((_, i) => found[i].length === 0) };
}

/** A member part's call with its on-call schedules resolved: who it goes to, and who among them is there for being on call. */
export interface MemberTarget {
  to: SendRecipients;
  /** The users only on-call put there (a user also named in `to.users` is not). */
  fromOncall: string[];
  /** What the part's timeline says it went to (`members; on call sre: ops2`); absent without schedules. */
  summary?: string;
}

export type ResolvedPart = { kind: 'target'; target: MemberTarget } | { kind: 'nobody'; error: { errcode: number; errmsg: string } };

/**
 * A member part's recipients now: its named members and whoever is on call on its
 * schedules. Nobody on call and nobody else named: the part cannot go to anyone, and
 * fails for good naming the schedule.
 */
export async function resolvePart(
  directory: OnCallDirectory | undefined,
  part: { to: SendRecipients; oncall?: string[] },
  at: number,
): Promise<ResolvedPart> {
  const schedules = part.oncall ?? [];
  if (schedules.length === 0) return { kind: 'target', target: { to: part.to, fromOncall: [] } };
  const { users, nobody } = await whoIsOnCall(directory, schedules, at);
  const named = namedUsers(part.to);
  const known = new Set(named.map((u) => u.toLowerCase()));
  const fromOncall = users.filter((u) => !known.has(u.toLowerCase()));
  const to = withUsers(part.to, [...named, ...fromOncall]);
  if (!to.touser && !to.toparty && !to.totag) {
    const errmsg = `nobody is on call for ${nobody.join(', ')} and the schedule has no fallback: the message reached nobody`;
    return { kind: 'nobody', error: { errcode: GatewayErrcode.nobodyOnCall, errmsg } };
  }
  const onCall = users.length > 0 ? users.join('|') : 'nobody';
  return { kind: 'target', target: { to, fromOncall, summary: `members; on call ${schedules.join('|')}: ${onCall}` } };
}

/** What a member part holds: its named call and its schedules (none: the key is left out). */
export interface PartRecipients {
  to: SendRecipients;
  oncall?: string[];
}

/**
 * A member part split by the per-member budget: what this job keeps and what the
 * deferred part takes. On-call users stay schedules while they are all on one side,
 * so the deferred part goes to whoever is on call when it leaves; split across both
 * (several fallback users), the deferred ones are named as they are now.
 */
export function divideByBudget(
  part: PartRecipients,
  target: MemberTarget,
  allowed: string[],
  deferred: string[],
): { keep: PartRecipients; defer: PartRecipients } {
  const fromOncall = new Set(target.fromOncall);
  const onCallAllowed = allowed.some((u) => fromOncall.has(u));
  const onCallDeferred = deferred.some((u) => fromOncall.has(u));
  const named = (users: string[]) => users.filter((u) => !fromOncall.has(u));
  // `oncall` is always set (undefined drops it): the parts are spread over the job's data, which may hold schedules.
  const keep = { to: withUsers(part.to, named(allowed)), oncall: onCallAllowed ? part.oncall : undefined };
  if (onCallDeferred && !onCallAllowed) return { keep, defer: { to: withUsers({}, named(deferred)), oncall: part.oncall } };
  return { keep, defer: { to: withUsers({}, deferred), oncall: undefined } };
}
