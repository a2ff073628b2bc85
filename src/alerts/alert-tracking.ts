import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Caller } from '../http/auth';
import { stormKeyOf, type AlertContext } from './alert-context';
import type { MessageService } from '../messages/message-service';
import { memberCalls, membersOf, type Recipients } from '../messages/recipients';
import type { OnCallDirectory } from '../messages/oncall-recipients';
import type { Metrics } from '../ops/metrics';
import type { MessageMentions as Mentions } from '../messages/mentions';
import { cardData, groupTemplateData, groupTimes, recipientRefs } from './alert-card';
import { firstStart, foldItemOf, lastEnd, sharedLabels } from './alert-data';
import { AlertGroups, describeRecipients, destinationOf, type AlertCard, type AlertGroup, type Destination } from './alert-groups';
import { runAgainIn, type AlertJob, type AlertJobs, type Resolution } from './alert-jobs';
import { decide, statusesFor } from './alert-state';
import type { SilenceTargets } from './alertmanager';
import type { AlertRoute, AlertsConfig } from './alerts-config';
import type { Duration, EscalationLevel } from './escalation-config';
import { alertTime } from './payloads';
import { noteOnCallReceivers, skippedForNobodyOnCall } from './oncall-paging';

/** While a silence is being created, escalation waits and looks again. */
const SILENCING_RECHECK_MS = 15_000;

export interface AlertTrackingDeps {
  groups: AlertGroups;
  messages: MessageService;
  /**
   * Members get cards with buttons: the app's callback is configured (clicks reach the gateway) and some Alertmanager can take silences.
   */
  interactive: boolean;
  settings: AlertsConfig;
  silenceTargets: SilenceTargets;
  jobs: AlertJobs;
  metrics: Metrics;
  logger: Logger;
  /** Who is on call: an escalation level with nobody on call goes on to the next at once. */
  oncall?: OnCallDirectory;
  /** The gateway's clock (core.clock): a group's times and its cards' sending. */
  clock: () => number;
  /** Rings a level's `call` (ALERT_PHONE; alerts/phone/). */
  calls?: { ring(groupId: string, level: number, callees: string[]): Promise<void> };
}

/**
 * Alert groups the gateway follows after sending them: a firing notification opens
 * or refreshes its group and sends its cards, a resolution ends it in place, and
 * nobody acting escalates it level by level (its cards follow each change:
 * card-updates.ts; clicks: card-actions.ts). Each driver asks the state table (alert-state.ts) what
 * an event does, and carries out its effects here.
 */
export class AlertTracking {
  constructor(private readonly deps: AlertTrackingDeps) {}

  /** Followed when members can click, or when the route or template escalates. */
  tracks(route: AlertRoute | undefined, event: string): boolean {
    return this.deps.interactive || this.levelsOf(route?.name, event).length > 0;
  }

  /** The configured route a group came by, as it is configured now. */
  routeNamed(name: string | undefined): AlertRoute | undefined {
    return name === undefined ? undefined : this.deps.settings.routes.find((r) => r.name === name);
  }

  levelsOf(routeName: string | undefined, event: string): EscalationLevel[] {
    return this.routeNamed(routeName)?.escalation ?? this.deps.messages.template(event)?.escalation ?? [];
  }

  durationsOf(routeName: string | undefined): Duration[] {
    return this.routeNamed(routeName)?.silenceDurations ?? this.deps.settings.silenceDurations;
  }

  private scopeOf(ctx: AlertContext): string {
    return AlertGroups.scopeOf(ctx.notification.source, ctx.owner, ctx.notification.groupKey, ctx.to);
  }

  /**
   * A firing notification: a new group opens (and starts its escalation clock) or
   * the open one takes the notification's alerts; either way its cards go to the
   * first level. A replica's late firing of what has already resolved opens nothing.
   */
  async fire(ctx: AlertContext): Promise<{ alert: string; ids: string[]; outdated?: true }> {
    const n = ctx.notification;
    const scope = this.scopeOf(ctx);
    const latest = await this.deps.groups.latest(scope);
    const resolvedAt = latest?.status === 'resolved' ? latest.resolvedAt : undefined;
    if (resolvedAt !== undefined && n.alerts.every((a) => (alertTime(a.startsAt) ?? Infinity) < resolvedAt))
      return { alert: latest!.id, ids: [], outdated: true };
    const step = decide(latest?.status, 'firing')!;
    const fields = { data: ctx.data, title: n.title, matchers: sharedLabels(n), firingSince: firstStart(n.alerts, this.deps.clock()) };
    const silenceVia = this.deps.silenceTargets.for(n.source, ctx.route?.name);
    const opened = step.effects.includes('open')
      ? await this.deps.groups.open(scope, {
          ...fields,
          source: n.source,
          groupKey: n.groupKey,
          severity: n.commonLabels.severity ?? n.alerts[0]?.severity ?? 'unknown',
          createdBy: ctx.owner,
          ...(ctx.route ? { route: ctx.route.name } : {}),
          event: ctx.event,
          ...(ctx.msgtype ? { msgtype: ctx.msgtype } : {}),
          ...(silenceVia ? { silenceVia } : {}),
          to: ctx.to,
        })
      : { group: latest!, created: false };
    let group = opened.group;
    if (opened.created) await this.deps.groups.timeline.note(group.id, { kind: 'fired', to: describeRecipients(destinationOf(ctx.to)) });
    if (!opened.created) {
      const refresh = { ...fields, firingSince: Math.min(group.firingSince, fields.firingSince) };
      await this.deps.groups.refresh(group.id, refresh);
      group = { ...group, ...refresh };
    }
    const ids = await this.deliver(group, ctx.to, {
      level: 0,
      caller: ctx.caller,
      requestId: ctx.requestId,
      configuredChats: ctx.route?.chats,
      ...(ctx.mentions ? { mentions: ctx.mentions } : {}),
    });
    const levels = this.levelsOf(group.route, group.event);
    if (opened.created && step.effects.includes('startEscalation') && levels.length > 0)
      await this.deps.jobs.add({ kind: 'escalate', groupId: group.id, level: 1 }, levels[0].after.ms);
    return { alert: group.id, ids };
  }

  /**
   * A resolved notification of a group the gateway follows: the group ends (no
   * escalation, the next firing opens a new group) and every card follows; a repeat
   * of it changes nothing. Undefined: no such group (folded, expired, lost), so the
   * notification goes out as a resolved message, never as a firing one.
   */
  async resolve(ctx: AlertContext): Promise<{ alert: string } | undefined> {
    const n = ctx.notification;
    const group = await this.deps.groups.latest(this.scopeOf(ctx));
    const step = decide(group?.status, 'resolved')!;
    if (!group || step.effects.includes('sendResolved')) return undefined;
    if (step.to === 'resolved') {
      const moved = await this.deps.groups.transition(
        group.id,
        { status: statusesFor('resolved') },
        { status: 'resolved', resolvedAt: lastEnd(n.alerts, this.deps.clock()), data: ctx.data, title: n.title },
      );
      const resolution: Resolution = { stormKey: stormKeyOf(ctx.owner, n), item: foldItemOf(n, this.deps.settings.keyLabels) };
      if (moved) {
        await this.deps.groups.timeline.note(group.id, { kind: 'resolved' });
        await this.deps.jobs.add({ kind: 'cards', groupId: group.id, reason: 'resolved', resolution });
      }
    }
    return { alert: group.id };
  }

  /** The group as templates see it: its alerts, its times and state, and what this message adds (a card, escalation, a notice). */
  templateData(group: AlertGroup, extras: Record<string, unknown> = {}): Record<string, unknown> {
    return groupTemplateData(group, this.deps.settings, this.deps.clock(), extras);
  }

  /** When the group began (its first startsAt) and, once resolved, how long it lasted: as cards and messages say it. */
  timesOf(group: AlertGroup) {
    return groupTimes(group, this.deps.settings.timeZone, this.deps.clock());
  }

  /**
   * Sends the group to `to`: members get the card (one send, so one task_id and
   * one response_code), robots and chats the event's own form with its links.
   */
  async deliver(
    group: AlertGroup,
    to: Recipients,
    options: {
      level: number;
      from?: Destination;
      caller?: Caller;
      requestId?: string;
      configuredChats?: string[];
      idempotencyKey?: string;
      mentions?: Mentions;
    },
  ): Promise<string[]> {
    const members = membersOf(to);
    const groupsOnly: Destination | undefined =
      to === '@all'
        ? undefined
        : to.robots?.length || to.chats?.length
          ? { ...(to.robots ? { robots: to.robots } : {}), ...(to.chats ? { chats: to.chats } : {}) }
          : undefined;
    const escalation = options.from ? { escalation: { level: options.level, from: recipientRefs(options.from) } } : {};
    const accept = async (recipients: Recipients, msgtype: string | undefined, body: Record<string, unknown>, part: string) => {
      const request = this.deps.messages.parse({
        event: group.event,
        ...(msgtype ? { msgtype } : {}),
        to: recipients,
        data: body,
        ...(options.mentions && part === 'groups' ? { mentions: options.mentions } : {}),
        ...(options.idempotencyKey ? { idempotencyKey: `${options.idempotencyKey}-${part}` } : {}),
      });
      return this.deps.messages.accept(request, {
        caller: options.caller,
        requestId: options.requestId,
        configuredChats: options.configuredChats,
      });
    };
    const ids: string[] = [];
    const sentAt = this.deps.clock();
    /** A message sent for the group: its id and, when it is new, its card record and its timeline step. */
    const record = async (sent: { id: string; created: boolean }, card: Pick<AlertCard, 'taskId' | 'to' | 'from'>) => {
      ids.push(sent.id);
      if (!sent.created) return;
      const { level } = options;
      await this.deps.groups.timeline.note(group.id, {
        kind: 'notified',
        to: describeRecipients(card.to),
        messageId: sent.id,
        level,
        at: sentAt,
      });
      await this.deps.groups.saveCard(group.id, { ...card, messageId: sent.id, level, sentAt });
    };
    if (members) {
      if (this.cardsFor(group, members)) {
        const taskId = await this.deps.groups.nextTaskId(group.id);
        const from = options.from ? { from: options.from } : {};
        const card = cardData(group, { taskId, ...from }, this.durationsOf(group.route));
        const sent = await accept(members, 'template_card', this.templateData(group, { ...escalation, card }), 'members');
        await record(sent, { taskId, to: destinationOf(members), ...from });
      } else {
        await record(await accept(members, group.msgtype, this.templateData(group, escalation), 'members'), { to: destinationOf(members) });
      }
      await noteOnCallReceivers(this.deps, group.id, members, sentAt);
    }
    // A robot's textcard is the event's markdown: the message service converts it.
    if (groupsOnly)
      await record(await accept(groupsOnly, group.msgtype, this.templateData(group, escalation), 'groups'), { to: groupsOnly });
    return ids;
  }

  /** A card needs the app's callback (clicks), the event's card form, no other form asked for, and members that fit one send. */
  private cardsFor(group: AlertGroup, members: Recipients): boolean {
    if (!this.deps.interactive || group.msgtype || members === '@all') return false;
    if (!this.deps.messages.template(group.event)?.msgtypes.includes('template_card')) return false;
    return memberCalls(members).length === 1;
  }

  /** The card body of `card` as the group stands now: what an update sends. */
  renderCard(group: AlertGroup, card: AlertCard): Record<string, unknown> {
    return this.deps.messages.renderBody(
      group.event,
      'template_card',
      this.templateData(group, { card: cardData(group, card, this.durationsOf(group.route)) }),
    );
  }

  /** Delayed job: nobody acted within `after`, so the group goes to the next level. */
  async escalate(job: Job<AlertJob & { kind: 'escalate' }>, token?: string): Promise<void> {
    const { groupId, level } = job.data;
    const group = await this.deps.groups.get(groupId);
    // The state as it is now: acked, silenced or resolved since the job was scheduled, nobody is paged.
    if (!group || group.level !== level - 1) return;
    const step = decide(group.status, 'escalate');
    // The silence may still fail; then the group is as it was and escalation goes on.
    if (step?.effects.includes('recheckLater')) return runAgainIn(job, token, SILENCING_RECHECK_MS);
    if (!step?.effects.includes('escalate')) return;
    const levels = this.levelsOf(group.route, group.event);
    const next = levels[level - 1];
    if (!next || (await skippedForNobodyOnCall(this.deps, groupId, level, levels))) return;
    const from: Destination = level === 1 ? destinationOf(group.to) : levels[level - 2].to;
    // The same message on a retry of this job (the gateway's own idempotency namespace); calls ring from their own queue.
    const { call, ...to } = next.to;
    await this.deliver(group, to, { level, from, idempotencyKey: `escalate-${groupId}-${level}` });
    if (!(await this.deps.groups.transition(groupId, { status: ['firing'], level: [String(level - 1)] }, { level }))) return;
    if (call) await this.deps.calls?.ring(groupId, level, call);
    this.deps.metrics.alertEscalations.inc({ level: String(level) });
    await this.deps.groups.timeline.note(groupId, { kind: 'escalated', level, to: describeRecipients(next.to) });
    this.deps.logger.info({ alert: groupId, level, from: describeRecipients(from) }, 'alert escalated: nobody acted on it');
    if (levels[level]) await this.deps.jobs.add({ kind: 'escalate', groupId, level: level + 1 }, levels[level].after.ms);
  }
}
