import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { EventRule } from '../core';
import type { Metrics } from '../ops/metrics';
import type { WecomApp } from '../wecom/app';
import { cardClick, type CallbackEvent } from '../wecom/callback/event';
import { actionOf } from './alert-card';
import { groupOfTask, type AlertCard, type AlertGroups } from './alert-groups';
import type { Attempted } from '../queues/settle';
import type { AlertJob, AlertJobs, Click } from './alert-jobs';
import { sameUser, type AlertCommands } from './alert-commands';
import { statusesFor } from './alert-state';
import type { AlertTracking } from './alert-tracking';
import { SilenceError, type SilenceTargets } from './alertmanager';
import { parseDuration } from './escalation-config';

export interface CardActionDeps {
  groups: AlertGroups;
  tracking: AlertTracking;
  jobs: AlertJobs;
  /** Apps by name (the one whose callback got the click) and the one alert cards go through. */
  findApp: (name: string) => WecomApp | undefined;
  app: WecomApp;
  silenceTargets: SilenceTargets;
  /** Ack and silence go the way every channel's do. */
  commands: AlertCommands;
  metrics: Metrics;
  logger: Logger;
  /** The gateway's clock (core.clock): when a click came. */
  clock: () => number;
}

/** `repeat`: the click changed nothing (the group had moved on); its card is updated to show where the group stands. */
type ClickOutcome = 'acked' | 'silencing' | 'repeat' | 'unknown_card' | 'other_app' | 'unknown_button' | 'not_allowed';

/**
 * Whoever received the card may click it; WeCom expands parties and tags, and on-call
 * schedules were resolved when the card was sent, so any click on such a card is a recipient's.
 */
function received(card: AlertCard, user: string): boolean {
  if (card.to.parties?.length || card.to.tags?.length || card.to.oncall?.length) return true;
  return (card.to.users ?? []).some((u) => u === '@all' || sameUser(u, user));
}

/**
 * Clicks on alert cards (template_card_event): ack and silence, each once, as the
 * state table says (alert-state.ts). The click is recorded from the inbound
 * queue, after WeCom got its answer; the silence and the card updates are jobs of
 * their own, retried with backoff. A click that changes nothing (someone got
 * there first, on this card or another) still gets an answer: its card shows the
 * group as it stands.
 */
export class CardActions {
  constructor(private readonly deps: CardActionDeps) {}

  /** Cards of other features (task ids not ours) go on to the next rule, e.g. forwarding. */
  rule(): EventRule {
    return {
      name: 'alert-card-click',
      match: { msgType: 'event', event: 'template_card_event' },
      when: (event) => groupOfTask(cardClick(event).taskId) !== undefined,
      handle: async (event) => {
        const outcome = await this.click(event);
        this.deps.metrics.alertClicks.inc({ outcome });
      },
    };
  }

  private async click(event: CallbackEvent): Promise<ClickOutcome> {
    const click = cardClick(event);
    const log = this.deps.logger.child({ taskId: click.taskId, user: click.user, key: click.eventKey });
    // Only the alert app's clicks count: another app with the same task_id is not this card.
    const app = this.deps.findApp(event.app);
    if (!app || app.name !== this.deps.app.name || click.agentId !== String(app.agentId)) return ignored(log, 'other_app');
    const groupId = groupOfTask(click.taskId)!;
    const [group, card] = await Promise.all([this.deps.groups.get(groupId), this.deps.groups.card(groupId, click.taskId!)]);
    if (!group || !card || !click.user || !click.responseCode) return ignored(log, 'unknown_card');
    const action = actionOf(click.eventKey, this.deps.tracking.durationsOf(group.route));
    if (!action) return ignored(log, 'unknown_button');
    if (!received(card, click.user)) return ignored(log, 'not_allowed');

    // One id per click: WeCom's retries of the push are deduplicated before this; a retried job finds its own click.
    const clickId = createHash('sha256').update(event.dedupeKey).digest('hex').slice(0, 24);
    const job: Click = { taskId: click.taskId!, responseCode: click.responseCode, clickId, clickedAt: this.deps.clock() };
    const command = { by: click.user, via: 'card' as const, action: job };
    const result =
      action.kind === 'ack'
        ? await this.deps.commands.ack(groupId, command)
        : await this.deps.commands.silence(groupId, { ...command, duration: action.duration.text });
    if (result.outcome === 'not_allowed') return ignored(log, 'not_allowed');
    if (result.outcome === 'unknown') return ignored(log, 'unknown_card');
    return result.outcome as ClickOutcome;
  }

  /**
   * Creates the silence in the Alertmanager that owns the group's alerts, then has
   * every card say so. Alertmanager down: retried with backoff (settle decides, by the
   * silence's attempts in the catalog); when settle gives up (or on a refusal) the group
   * is as before the click and the clicked card says the silence failed. It never
   * claims a silence that does not exist.
   */
  async silence(job: Job<AlertJob & { kind: 'silence' }>): Promise<Attempted | void> {
    const { groupId, click } = job.data;
    const group = await this.deps.groups.get(groupId);
    const silence = group?.silence;
    if (!group || !silence || silence.clickId !== click.clickId || group.status !== 'silencing') return;
    const started = this.deps.clock();
    try {
      // Checked against the buttons when clicked; read from the group, so a changed configuration cannot lose it.
      // Alertmanager's wall clock, not the gateway's: a silence starting by another clock would wait there as pending.
      const until = Date.now() + parseDuration(silence.duration)!.ms;
      const alertmanager = this.deps.silenceTargets.client(group.silenceVia);
      if (!alertmanager)
        throw new SilenceError(
          `no Alertmanager takes this alert's silences ` +
            `(${group.source === 'grafana' ? 'GRAFANA_ALERTMANAGER_URL' : 'ALERTMANAGER_URL'} is not set)`,
          false,
        );
      const id = await alertmanager.createSilence({
        matchers: group.matchers,
        startsAt: new Date(),
        endsAt: new Date(until),
        createdBy: silence.name ? `${silence.by} (${silence.name})` : silence.by,
        comment:
          `Silenced from ${VIA_WORDS[silence.via ?? 'card'] ?? silence.via} by ${silence.name ?? silence.by} ` +
          `(wecom-gateway, alert ${groupId}${click.taskId ? `, card ${click.taskId}` : ''})`,
      });
      this.deps.metrics.alertSilences.inc({ result: 'created' });
      this.deps.logger.info(
        {
          alert: groupId,
          silenceId: id,
          via: group.silenceVia,
          alertmanagerMs: this.deps.clock() - started,
          sinceClickMs: this.deps.clock() - click.clickedAt,
        },
        'alert silenced',
      );
      const moved = await this.deps.groups.transition(
        groupId,
        { status: statusesFor('silenceCreated') },
        { status: 'silenced', silence: { ...silence, id, until } },
      );
      const detail = `${silence.duration} · ${silence.via ?? 'card'}`;
      if (moved) await this.deps.groups.timeline.note(groupId, { kind: 'silenced', by: silence.by, detail });
      await this.deps.jobs.add({ kind: 'cards', groupId, reason: moved ? 'silenced' : 'state', click });
    } catch (error) {
      if (!(error instanceof SilenceError)) throw error;
      return {
        result: error.retry ? { kind: 'retry', reason: error.message } : { kind: 'permanent', reason: error.message },
        onVerdict: async (verdict) => {
          if (verdict.kind !== 'fail') return;
          this.deps.metrics.alertSilences.inc({ result: 'failed' });
          this.deps.logger.warn({ alert: groupId, err: error.message }, 'silence failed: the card says so');
          // Back where it was before the click (the table's `previous`).
          const previous = group.acked ? 'acked' : 'firing';
          const failed = { ...silence, error: error.message };
          await this.deps.groups.transition(groupId, { status: statusesFor('silenceFailed') }, { status: previous, silence: failed });
          await this.deps.groups.timeline.note(groupId, { kind: 'silenceFailed', by: silence.by, detail: error.message });
          await this.deps.jobs.add({ kind: 'cards', groupId, reason: 'failed', click });
          return 'handled';
        },
      };
    }
  }
}

/** Alertmanager's silence comment says where it came from. */
const VIA_WORDS: Record<string, string> = {
  card: 'a WeCom alert card',
  text: 'a WeCom text message',
  api: 'the API',
  console: 'the console',
  page: "the alert's page",
};

function ignored(log: Logger, outcome: ClickOutcome): ClickOutcome {
  log.info({ outcome }, 'card click ignored');
  return outcome;
}
