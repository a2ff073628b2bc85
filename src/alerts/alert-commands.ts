import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ApiError } from '../http/errors';
import type { Actor, AlertGroup, AlertGroups } from './alert-groups';
import type { AlertJobs, Click } from './alert-jobs';
import { decide, statusesFor, type AlertEvent, type Effect } from './alert-state';
import type { AlertTracking } from './alert-tracking';

/** Where a member's action came from: a card's button, a text message to the app, the API, the console, the alert's page. */
export type CommandVia = 'card' | 'text' | 'api' | 'console' | 'page';

/**
 * What an action did. `repeat`: nothing changed (the group had moved on: acked already,
 * resolved, assigned to the same member); `unknown`: no such group (or older than the
 * retention); `not_allowed`: this member may not (a route's silencers), or the group
 * cannot be silenced at all (`reason` says which).
 */
export type CommandOutcome = 'acked' | 'assigned' | 'silencing' | 'repeat' | 'unknown' | 'not_allowed';

export interface CommandResult {
  outcome: CommandOutcome;
  /** The group as it stands after the action (absent: unknown). */
  group?: AlertGroup;
  /** Why it was not allowed, in a sentence for the caller. */
  reason?: string;
}

export interface Command {
  /** The member acting: their userid. */
  by: string;
  via: CommandVia;
  /**
   * The action's id and time when a retry must find the same action: a card click (with
   * its card and single-use response_code, so the clicked card answers) or a callback
   * push (an id from its dedupe key). Absent: a new action, now.
   */
  action?: Click;
}

export interface AlertCommandsDeps {
  groups: AlertGroups;
  tracking: Pick<AlertTracking, 'routeNamed' | 'durationsOf' | 'deliver'>;
  jobs: AlertJobs;
  /** A member's name from the contact mirror, when it knows them. */
  nameOf: (userId: string) => Promise<string | undefined>;
  logger: Logger;
  /** The gateway's clock (core.clock): when an action came. */
  clock: () => number;
}

/** WeCom's userids are case-insensitive: `ZhangSan` and `zhangsan` are one member. */
export const sameUser = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Ack, assign (指派) and silence, from wherever a member acts: the one path every
 * channel takes (card clicks in card-actions.ts, a text `ack` in text-ack.ts, the API,
 * the console, the alert's page), so each action moves the group once, as the state
 * table says (alert-state.ts), and is noted on its timeline with its channel. The
 * cards follow through the alert-actions jobs (card-updates.ts), the silence through
 * its own job (card-actions.ts), each retried with backoff.
 */
export class AlertCommands {
  constructor(private readonly deps: AlertCommandsDeps) {}

  async ack(groupId: string, command: Command): Promise<CommandResult> {
    const group = await this.deps.groups.get(groupId);
    if (!group) return { outcome: 'unknown' };
    const action = this.actionOf(command);
    const acked = { ...(await this.actor(command, action)), clickId: action.clickId };
    const mine = group.acked?.clickId === action.clickId;
    if (!(await this.step(group, 'ack', mine, { status: 'acked', acked }))) return this.repeat(group, action);
    this.deps.logger.info({ alert: groupId, by: command.by, via: command.via }, 'alert acknowledged');
    await this.deps.groups.timeline.note(groupId, { kind: 'acked', by: command.by, at: acked.at, detail: command.via });
    await this.deps.jobs.add({ kind: 'cards', groupId, reason: 'acked', click: action });
    return this.answer('acked', groupId);
  }

  /**
   * Hands the group to `to`: every card says "assigned to X by Y", and X gets the
   * group's card (acking it is theirs to do; escalation goes on until someone acks).
   * Assigning it to its assignee again changes nothing.
   */
  async assign(groupId: string, command: Command & { to: string }): Promise<CommandResult> {
    const group = await this.deps.groups.get(groupId);
    if (!group) return { outcome: 'unknown' };
    const action = this.actionOf(command);
    const toName = (await this.nameOf(command.to)).name;
    const assigned = { ...(await this.actor(command, action)), to: command.to, ...(toName ? { toName } : {}) };
    const again = group.assigned !== undefined && sameUser(group.assigned.to, command.to);
    if (again || !(await this.step(group, 'assign', false, { assigned }, 'assign'))) return this.repeat(group, action);
    this.deps.logger.info({ alert: groupId, by: command.by, to: command.to, via: command.via }, 'alert assigned');
    await this.deps.groups.timeline.note(groupId, {
      kind: 'assigned',
      by: command.by,
      to: command.to,
      at: assigned.at,
      detail: command.via,
    });
    const now = await this.deps.groups.get(groupId);
    if (now) await this.handOver(now, command.to, action);
    await this.deps.jobs.add({ kind: 'cards', groupId, reason: 'assigned', click: action });
    return this.answer('assigned', groupId);
  }

  /**
   * Asks for a silence of the group's matchers in its source's Alertmanager, for one of
   * its route's durations (`1h`); the silence job creates it and the cards follow.
   */
  async silence(groupId: string, command: Command & { duration: string }): Promise<CommandResult> {
    const group = await this.deps.groups.get(groupId);
    if (!group) return { outcome: 'unknown' };
    const durations = this.deps.tracking.durationsOf(group.route).map((d) => d.text);
    if (!durations.includes(command.duration)) {
      const message = `duration must be one of ${durations.join(', ')} (the route's silence durations)`;
      throw new ApiError(400, 'invalid_request', message, [{ field: 'duration', message }]);
    }
    if (!group.silenceVia || Object.keys(group.matchers).length === 0)
      return { outcome: 'not_allowed', group, reason: 'no Alertmanager takes the silences of this alert group' };
    const silencers = this.deps.tracking.routeNamed(group.route)?.silencers;
    if (silencers && !silencers.some((s) => sameUser(s, command.by)))
      return { outcome: 'not_allowed', group, reason: `${command.by} is not one of the silencers of route ${group.route}` };
    const action = this.actionOf(command);
    const silence = { ...(await this.actor(command, action)), duration: command.duration, clickId: action.clickId };
    const mine = group.silence?.clickId === action.clickId;
    if (!(await this.step(group, 'silence', mine, { status: 'silencing', silence }))) return this.repeat(group, action);
    await this.deps.jobs.add({ kind: 'silence', groupId, click: action });
    return this.answer('silencing', groupId);
  }

  /**
   * One step of the table, atomically guarded by the states it applies in; `mine`: a
   * retry of the action that took it already (its jobs are added again, once by their ids).
   */
  private async step(group: AlertGroup, event: AlertEvent, mine: boolean, fields: Partial<AlertGroup>, effect?: Effect): Promise<boolean> {
    if (mine) return true;
    const step = decide(group.status, event);
    const applies = effect ? step?.effects.includes(effect) : step?.to !== undefined;
    return Boolean(applies) && (await this.deps.groups.transition(group.id, { status: statusesFor(event, effect) }, fields));
  }

  /** Nothing changed: a clicked card still answers, showing the group as it stands. */
  private async repeat(group: AlertGroup, action: Click): Promise<CommandResult> {
    if (action.taskId) await this.deps.jobs.add({ kind: 'cards', groupId: group.id, reason: 'state', click: action });
    return { outcome: 'repeat', group: (await this.deps.groups.get(group.id)) ?? group };
  }

  /** The assignee's own card of the group (saying whom it is assigned to): an update for the assignment would only spend its code. */
  private async handOver(group: AlertGroup, to: string, action: Click): Promise<void> {
    const ids = await this.deps.tracking.deliver(
      group,
      { users: [to] },
      { level: group.level, idempotencyKey: `assign-${action.clickId}` },
    );
    for (const card of await this.deps.groups.cards(group.id))
      if (ids.includes(card.messageId)) await this.deps.groups.saveCard(group.id, { ...card, shows: showsOf('assigned', group) });
  }

  private async answer(outcome: CommandOutcome, groupId: string): Promise<CommandResult> {
    const group = await this.deps.groups.get(groupId);
    return { outcome, ...(group ? { group } : {}) };
  }

  private actionOf(command: Command): Click {
    return command.action ?? { clickId: randomBytes(12).toString('hex'), clickedAt: this.deps.clock() };
  }

  private async actor(command: Command, action: Click): Promise<Actor> {
    return { by: command.by, ...(await this.nameOf(command.by)), at: action.clickedAt, via: command.via };
  }

  private async nameOf(userId: string): Promise<{ name?: string }> {
    const name = await this.deps.nameOf(userId).catch(() => undefined);
    return name ? { name } : {};
  }
}

/** What a card shows after a change, so a retried update skips it: the reason, and for an assignment whom it went to. */
export function showsOf(reason: string, group: AlertGroup): string {
  return reason === 'assigned' ? `assigned:${group.assigned?.to ?? ''}` : reason;
}
