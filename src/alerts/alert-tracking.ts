import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Caller } from '../http/auth';
import type { MessageService } from '../messages/message-service';
import type { MessageStore } from '../messages/message-store';
import { membersOf, splitRecipients, type Recipients } from '../messages/recipients';
import type { Metrics } from '../ops/metrics';
import type { WecomApp } from '../wecom/app';
import type { Mentions } from '../wecom/group-chat';
import type { WecomApi } from '../wecom/wecom-api';
import { cardData } from './alert-card';
import { AlertGroups, type AlertCard, type AlertGroup } from './alert-groups';
import { runAgainIn, type AlertJob, type AlertJobs } from './alert-jobs';
import type { AlertRoute, AlertsConfig } from './alerts-config';
import type { Duration, EscalationLevel } from './escalation-config';
import type { Notification } from './payloads';

/** A response_code works for 72 h (reference §2.3; 24 h in older documents, so a card near that age is sent anew). */
const RESPONSE_CODE_MS = 72 * 3_600_000;
/** While a silence is being created, escalation waits and looks again. */
const SILENCING_RECHECK_MS = 15_000;

export interface AlertTrackingDeps {
  groups: AlertGroups;
  messages: MessageService;
  store: MessageStore;
  api: WecomApi;
  /** The app alert messages go through (the default app). */
  app: WecomApp;
  /** Members get ack and silence buttons: ALERTMANAGER_URL is set and the app's callback configured. */
  interactive: boolean;
  settings: AlertsConfig;
  jobs: AlertJobs;
  metrics: Metrics;
  logger: Logger;
}

/** What one webhook call asks for: the notification, its recipients and how to render it. */
export interface AlertContext {
  notification: Notification;
  to: Recipients;
  route?: AlertRoute;
  event: string;
  /** The route's or the query's message type: a member form other than the card. */
  msgtype?: string;
  data: Record<string, unknown>;
  /** Whom robot and chat messages @-mention. */
  mentions?: Mentions;
  caller: Caller;
  requestId: string;
}

type Destination = Exclude<Recipients, '@all'>;

/** "zhangsan, lisi, robot ops": who a level reached, for the escalated message. */
function describeRecipients(to: Recipients): string {
  if (to === '@all') return '@all';
  return [...(to.users ?? []), ...(to.parties ?? []).map((p) => `party ${p}`), ...(to.tags ?? []).map((t) => `tag ${t}`), ...(to.robots ?? []).map((r) => `robot ${r}`), ...(to.chats ?? []).map((c) => `chat ${c}`)].join(', ');
}

/** The matchers a silence uses: the labels every alert of the group shares (they include the group-by labels), else the group-by labels. */
export function silenceMatchers(n: Notification): Record<string, string> {
  const nonEmpty = (labels: Record<string, string>) => Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
  const common = nonEmpty(n.commonLabels);
  return Object.keys(common).length > 0 ? common : nonEmpty(n.groupLabels);
}

/**
 * Alert groups the gateway follows after sending them: interactive cards
 * (ack, silence, updated in place), resolve in place, and escalation levels.
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

  /** A firing notification: the group's cards go out; a new group starts its escalation clock, a repeat does not. */
  async fire(ctx: AlertContext): Promise<{ alert: string; ids: string[] }> {
    const n = ctx.notification;
    const scope = AlertGroups.scopeOf(n.source, n.groupKey, ctx.to);
    const severity = n.commonLabels.severity ?? n.alerts[0]?.severity ?? 'unknown';
    const opened = await this.deps.groups.open(scope, {
      source: n.source,
      groupKey: n.groupKey,
      title: n.title,
      severity,
      createdBy: ctx.caller.id,
      ...(ctx.route ? { route: ctx.route.name } : {}),
      event: ctx.event,
      ...(ctx.msgtype ? { msgtype: ctx.msgtype } : {}),
      matchers: silenceMatchers(n),
      data: ctx.data,
      to: ctx.to,
    });
    let group = opened.group;
    if (!opened.created) {
      await this.deps.groups.refresh(group.id, ctx.data, n.title);
      group = { ...group, data: ctx.data, title: n.title };
    }
    const ids = await this.deliver(group, ctx.to, { level: 0, caller: ctx.caller, requestId: ctx.requestId, ...(ctx.mentions ? { mentions: ctx.mentions } : {}) });
    const levels = this.levelsOf(group.route, group.event);
    if (opened.created && levels.length > 0) await this.deps.jobs.add({ kind: 'escalate', groupId: group.id, level: 1 }, levels[0].after.ms);
    return { alert: group.id, ids };
  }

  /**
   * A resolved notification of a group the gateway follows: the group ends (no
   * escalation, the next firing opens a new group) and its cards are updated in
   * place; a repeat of it changes nothing. Undefined: no such group, the
   * notification goes out as a message.
   */
  async resolve(ctx: AlertContext): Promise<{ alert: string } | undefined> {
    const n = ctx.notification;
    const group = await this.deps.groups.latest(AlertGroups.scopeOf(n.source, n.groupKey, ctx.to));
    if (!group) return undefined;
    const resolved = await this.deps.groups.transition(group.id, { status: ['firing', 'acked', 'silencing', 'silenced'] }, { status: 'resolved', resolvedAt: Date.now(), data: ctx.data });
    if (resolved) await this.deps.jobs.add({ kind: 'resolve', groupId: group.id });
    return { alert: group.id };
  }

  /**
   * Sends the group to `to`: members get the card (one send, so one task_id and
   * one response_code), robots and chats the event's own form with its links.
   */
  private async deliver(group: AlertGroup, to: Recipients, options: { level: number; from?: string; caller?: Caller; requestId?: string; idempotencyKey?: string; mentions?: Mentions }): Promise<string[]> {
    const members = membersOf(to);
    const groupsOnly: Destination | undefined = to === '@all' ? undefined : to.robots?.length || to.chats?.length ? { ...(to.robots ? { robots: to.robots } : {}), ...(to.chats ? { chats: to.chats } : {}) } : undefined;
    const data = { ...group.data, ...(options.from ? { escalation: { level: options.level, from: options.from } } : {}) };
    const accept = async (recipients: Recipients, msgtype: string | undefined, body: Record<string, unknown>, part: string) => {
      const request = this.deps.messages.parse({
        event: group.event,
        ...(msgtype ? { msgtype } : {}),
        to: recipients,
        data: body,
        ...(options.mentions && part === 'groups' ? { mentions: options.mentions } : {}),
        ...(options.idempotencyKey ? { idempotencyKey: `${options.idempotencyKey}-${part}` } : {}),
      });
      return this.deps.messages.accept(request, { caller: options.caller, requestId: options.requestId });
    };
    const ids: string[] = [];
    const sentAt = Date.now();
    if (members) {
      if (this.cardsFor(group, members)) {
        const taskId = await this.deps.groups.nextTaskId(group.id);
        const card = cardData(group, { taskId, ...(options.from ? { from: options.from } : {}) }, this.cardOptions(group));
        const sent = await accept(members, 'template_card', { ...data, card }, 'members');
        ids.push(sent.id);
        if (sent.created) await this.deps.groups.saveCard(group.id, { taskId, messageId: sent.id, to: members as Destination, level: options.level, ...(options.from ? { from: options.from } : {}), sentAt });
      } else {
        const sent = await accept(members, group.msgtype, data, 'members');
        ids.push(sent.id);
        if (sent.created) await this.deps.groups.saveCard(group.id, { messageId: sent.id, to: members === '@all' ? { users: ['@all'] } : members, level: options.level, sentAt });
      }
    }
    if (groupsOnly) {
      // A robot's textcard is the event's markdown: the message service converts it.
      const sent = await accept(groupsOnly, group.msgtype, data, 'groups');
      ids.push(sent.id);
      if (sent.created) await this.deps.groups.saveCard(group.id, { messageId: sent.id, to: groupsOnly, level: options.level, sentAt });
    }
    return ids;
  }

  /** A card needs the app's callback (clicks), the event's card form, no other form asked for, and members that fit one send. */
  private cardsFor(group: AlertGroup, members: Recipients): boolean {
    if (!this.deps.interactive || group.msgtype || members === '@all') return false;
    if (!this.deps.messages.template(group.event)?.msgtypes.includes('template_card')) return false;
    return splitRecipients(members).length === 1;
  }

  cardOptions(group: Pick<AlertGroup, 'route'>) {
    return { durations: this.durationsOf(group.route), timeZone: this.deps.settings.timeZone };
  }

  /** The card body of `card` as the group stands now: what an update sends. */
  renderCard(group: AlertGroup, card: AlertCard): Record<string, unknown> {
    return this.deps.messages.renderBody(group.event, 'template_card', { ...group.data, card: cardData(group, card, this.cardOptions(group)) });
  }

  /** Delayed job: nobody acted within `after`, so the group goes to the next level. */
  async escalate(job: Job<AlertJob & { kind: 'escalate' }>, token?: string): Promise<void> {
    const { groupId, level } = job.data;
    const group = await this.deps.groups.get(groupId);
    if (!group || group.level !== level - 1) return;
    // The silence may still fail; then the group is as it was and escalation goes on.
    if (group.status === 'silencing') return runAgainIn(job, token, SILENCING_RECHECK_MS);
    if (group.status !== 'firing') return;
    const levels = this.levelsOf(group.route, group.event);
    const next = levels[level - 1];
    if (!next) return;
    const from = describeRecipients(level === 1 ? group.to : levels[level - 2].to);
    // The same message on a retry of this job (the gateway's own idempotency namespace).
    await this.deliver(group, next.to, { level, from, idempotencyKey: `escalate-${groupId}-${level}` });
    if (!(await this.deps.groups.transition(groupId, { status: ['firing'], level: [String(level - 1)] }, { level }))) return;
    this.deps.metrics.alertEscalations.inc({ level: String(level) });
    this.deps.logger.info({ alert: groupId, level, from }, 'alert escalated: nobody acted on it');
    if (levels[level]) await this.deps.jobs.add({ kind: 'escalate', groupId, level: level + 1 }, levels[level].after.ms);
  }

  /**
   * The group resolved: each card is updated where it stands with its send's
   * response_code; a card whose code is used or too old, and every robot, chat or
   * plain message, gets a new message saying so.
   */
  async resolveCards(groupId: string): Promise<void> {
    const group = await this.deps.groups.get(groupId);
    if (!group) return;
    const cards = await this.deps.groups.cards(groupId);
    for (const [index, card] of cards.entries()) {
      if (card.sendCodeUsed) continue;
      if (card.taskId && (await this.updateWithSendCode(group, card))) continue;
      const request = this.deps.messages.parse({
        event: group.event,
        ...(group.msgtype ? { msgtype: group.msgtype } : {}),
        to: card.to,
        data: group.data,
        idempotencyKey: `resolve-${groupId}-${index}`,
      });
      await this.deps.messages.accept(request, {});
      await this.deps.groups.saveCard(groupId, { ...card, sendCodeUsed: true });
    }
  }

  /** True when the card now says resolved; false when its code cannot do it (a new message goes instead). */
  private async updateWithSendCode(group: AlertGroup, card: AlertCard): Promise<boolean> {
    const responseCode = (await this.deps.store.parts(card.messageId))[0]?.responseCode;
    if (!responseCode || Date.now() - card.sentAt > RESPONSE_CODE_MS) return false;
    const outcome = await this.deps.api.updateTemplateCard(this.deps.app, { responseCode, to: card.to, card: this.renderCard(group, card) });
    this.deps.metrics.alertCardUpdates.inc({ reason: 'resolved', result: outcome.kind === 'ok' ? 'ok' : 'error' });
    if (outcome.kind === 'retry' || outcome.kind === 'refreshToken') throw new Error(`update_template_card: ${outcome.error.errcode} ${outcome.error.errmsg}`);
    if (outcome.kind !== 'ok') {
      this.deps.logger.info({ alert: group.id, taskId: card.taskId, error: outcome.error }, 'card cannot be updated in place (its code is used or expired): sending the resolution anew');
      return false;
    }
    await this.deps.groups.saveCard(group.id, { ...card, sendCodeUsed: true });
    return true;
  }
}
