import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { MessageService } from '../messages/message-service';
import type { MessageStore } from '../messages/message-store';
import type { Metrics } from '../ops/metrics';
import type { WecomApp } from '../wecom/app';
import { RESPONSE_CODE_LIFETIME_MS } from '../wecom/card';
import { updateTemplateCard } from '../wecom/endpoints/message';
import type { Mentions } from '../wecom/group-chat';
import type { WecomApi } from '../wecom/wecom-api';
import { showsOf } from './alert-commands';
import type { AlertCard, AlertGroup, AlertGroups, Destination } from './alert-groups';
import { runAgainIn, type AlertJob, type CardsReason, type Click, type Resolution } from './alert-jobs';
import type { AlertTracking } from './alert-tracking';
import { recipientsKey, type StormControl } from './storm';

/** Another update of the group's cards is running: this one looks again shortly. */
const CARDS_BUSY_RECHECK_MS = 500;

export interface CardUpdatesDeps {
  groups: AlertGroups;
  /** How the group is rendered and where it escalates: the tracking that sent its cards. */
  tracking: Pick<AlertTracking, 'renderCard' | 'templateData' | 'levelsOf' | 'routeNamed'>;
  messages: MessageService;
  /** The send records: a card's own response_code. */
  store: MessageStore;
  api: WecomApi;
  /** The app alert cards go through. */
  app: WecomApp;
  storm: StormControl;
  metrics: Metrics;
  logger: Logger;
  /** The gateway's clock (core.clock). */
  clock: () => number;
}

/**
 * Every card of an alert group following a change of its state (acked, silenced,
 * resolved): updated in place while WeCom takes a code for it, else its recipients
 * are told by a message.
 */
export class CardUpdates {
  constructor(private readonly deps: CardUpdatesDeps) {}

  /**
   * The group's cards show its state. Acked, silenced or resolved: every card of
   * the group follows (every recipient, every escalation level): the clicked card
   * with the click's own response_code, each other card with its send's code while
   * that is unused and younger than 72 h (each code works once, reference §15).
   * Robots, chats, plain messages and cards whose code is spent are told by a
   * message, once per set of recipients (a resolution's through storm control).
   * `state` and `failed` change only the clicked card. One update of a group runs at a time.
   */
  async updateCards(job: Job<AlertJob & { kind: 'cards' }>, token?: string): Promise<void> {
    const ran = await this.deps.groups.whileCardsLocked(job.data.groupId, () => this.updateCardsNow(job.data));
    if (!ran) return runAgainIn(job, token, CARDS_BUSY_RECHECK_MS);
  }

  private async updateCardsNow({
    groupId,
    reason,
    click,
    resolution,
  }: {
    groupId: string;
    reason: CardsReason;
    click?: Click;
    resolution?: Resolution;
  }): Promise<void> {
    const group = await this.deps.groups.get(groupId);
    if (!group) return;
    const everyCard = reason === 'acked' || reason === 'assigned' || reason === 'silenced' || reason === 'resolved';
    const shows = showsOf(reason, group);
    const told = new Set<string>();
    const untold: AlertCard[] = [];
    // Newest first: a set of recipients is told once its newest card shows the state.
    for (const card of (await this.deps.groups.cards(groupId)).reverse()) {
      const set = recipientsKey(card.to);
      if (click?.taskId && click.responseCode && card.taskId === click.taskId) {
        if (!(await this.updateCard(group, card, click.responseCode, reason))) continue;
        told.add(set);
        if (everyCard) await this.deps.groups.saveCard(groupId, { ...card, shows });
      } else if (everyCard) {
        if (card.shows === shows || (card.taskId && (await this.updateWithSendCode(group, card, reason, shows)))) told.add(set);
        else if (!told.has(set)) {
          told.add(set);
          untold.push(card);
        }
      }
    }
    await this.tell(group, untold, reason, resolution);
    if (click)
      this.deps.logger.info(
        { alert: groupId, taskId: click.taskId, reason, told: untold.length, sinceClickMs: this.deps.clock() - click.clickedAt },
        'alert cards updated',
      );
  }

  /** Updates one card to the group's state with `responseCode`; false when WeCom refuses the code (used, expired). */
  private async updateCard(group: AlertGroup, card: AlertCard, responseCode: string, reason: CardsReason): Promise<boolean> {
    const outcome = await this.deps.api.call(
      this.deps.app,
      updateTemplateCard({ agentId: this.deps.app.agentId, responseCode, to: card.to, card: this.deps.tracking.renderCard(group, card) }),
    );
    this.deps.metrics.alertCardUpdates.inc({ reason, result: outcome.kind === 'ok' ? 'ok' : 'error' });
    if (outcome.kind === 'retry' || outcome.kind === 'refreshToken')
      throw new Error(`update_template_card: ${outcome.error.errcode} ${outcome.error.errmsg}`);
    if (outcome.kind !== 'ok') {
      this.deps.logger.info(
        { alert: group.id, taskId: card.taskId, error: outcome.error },
        'card cannot be updated with this code (used or expired)',
      );
      return false;
    }
    return true;
  }

  /**
   * Updates a card with its send's response_code, once; false when that code is spent or too old (a message tells its recipients instead).
   */
  private async updateWithSendCode(group: AlertGroup, card: AlertCard, reason: CardsReason, shows: string): Promise<boolean> {
    if (card.sendCodeUsed || this.deps.clock() - card.sentAt > RESPONSE_CODE_LIFETIME_MS) return false;
    const responseCode = (await this.deps.store.parts(card.messageId))[0]?.responseCode;
    if (!responseCode) return false;
    const updated = await this.updateCard(group, card, responseCode, reason);
    // A refused code is spent too: the next change tells these recipients by message at once.
    await this.deps.groups.saveCard(group.id, { ...card, sendCodeUsed: true, ...(updated ? { shows } : {}) });
    return updated;
  }

  /**
   * Tells recipients whose card cannot show the change (or who have no card) by a
   * message: the group in its message form with the change on top (已认领 · 张三), or
   * resolved. A resolution passes storm control like the notification that reached
   * them (the level's recipients, one budget): beyond their minute it joins their digest.
   */
  private async tell(group: AlertGroup, cards: AlertCard[], reason: CardsReason, resolution?: Resolution): Promise<void> {
    const levels = this.deps.tracking.levelsOf(group.route, group.event);
    const byLevel = new Map<number, Destination[]>();
    for (const card of cards) byLevel.set(card.level, [...(byLevel.get(card.level) ?? []), card.to]);
    for (const [level, destinations] of byLevel) {
      const levelTo = level === 0 ? group.to : (levels[level - 1]?.to ?? destinations[0]);
      const mentions = level === 0 ? this.deps.tracking.routeNamed(group.route)?.mentions : undefined;
      if (reason === 'resolved' && resolution) {
        const admission = await this.deps.storm.admit(levelTo, resolution.stormKey, resolution.item, {
          app: this.deps.app.name,
          ...(mentions ? { mentions } : {}),
        });
        if (admission.decision !== 'send') continue;
      }
      try {
        for (const to of destinations) await this.tellOne(group, to, reason, to.robots?.length || to.chats?.length ? mentions : undefined);
      } catch (error) {
        if (resolution) await this.deps.storm.forget(levelTo, resolution.stormKey).catch(() => undefined);
        throw error;
      }
    }
  }

  private async tellOne(group: AlertGroup, to: Destination, reason: CardsReason, mentions?: Mentions): Promise<void> {
    const request = this.deps.messages.parse({
      event: group.event,
      ...(group.msgtype ? { msgtype: group.msgtype } : {}),
      to,
      data: this.deps.tracking.templateData(group, reason === 'resolved' ? {} : { notice: reason }),
      ...(mentions ? { mentions } : {}),
      // The gateway's own idempotency namespace: a retried job sends nothing twice.
      idempotencyKey: `${showsOf(reason, group)}-${group.id}-${recipientsKey(to)}`,
    });
    await this.deps.messages.accept(request, {});
  }
}
