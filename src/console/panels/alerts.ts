import type { ConsoleLocale, StringKey, Translate } from '../locale';
import type { DashboardPanel } from '../panel';
import { cardHtml } from '../preview';
import { escapeHtml } from '../../ops/html';
import type { AlertGroups } from '../../alerts/alert-groups';
import type { AlertTracking } from '../../alerts/alert-tracking';
import { alertView, type AlertView } from '../../alerts/state-routes';

/** `2 d 3 h`, `2 h 5 min`, `12 min` (`2 天 3 小时`…): as the templates' `lasted` partial words it, in the console's language. */
const spanText = ({ days, hours, minutes }: { days: number; hours: number; minutes: number }, t: Translate) =>
  days ? t('alerts.days', { days, hours }) : hours ? t('alerts.hours', { hours, minutes }) : t('alerts.minutes', { minutes });

const SILENCE_STATES: Record<string, StringKey | undefined> = {
  created: 'alerts.silence.created',
  failed: 'alerts.silence.failed',
  pending: 'alerts.silence.pending',
};

function stateOf(view: AlertView, t: Translate): string {
  const status = t(`alerts.${view.status}`);
  if (view.status === 'acked' && view.acked) return t('alerts.ackedBy', { name: view.acked.name ?? view.acked.by });
  if (view.silence) {
    const state = SILENCE_STATES[view.silence.state];
    const silence = t('alerts.silence', {
      status,
      state: state ? t(state) : view.silence.state,
      name: view.silence.name ?? view.silence.by,
      duration: view.silence.duration,
    });
    return `${silence}${view.silence.id ? ` (${view.silence.id})` : ''}${view.silence.error ? `: ${view.silence.error}` : ''}`;
  }
  return status;
}

/** The console's alert groups: their state, escalation level, and each group's latest card as members see it. */
export function alertPanel(groups: AlertGroups, tracking: AlertTracking): DashboardPanel {
  return {
    id: 'alerts',
    title: 'alerts.title',
    async html(_basePath, { t }: ConsoleLocale) {
      const recent = await groups.recent(12);
      const entries = await Promise.all(
        recent.map(async (group) => {
          const cards = await groups.cards(group.id);
          const view = alertView(group, cards, tracking.levelsOf(group.route, group.event).length);
          // In ALERT_TIMEZONE, 24-hour, as on the card itself: the console's one time convention.
          const times = tracking.timesOf(group);
          const lasted = times.lasted ? ` · ${t('alerts.lasted', { span: spanText(times.lasted, t) })}` : '';
          const when = `${t('alerts.since', { time: times.since })}${lasted}`;
          const latest = [...cards].reverse().find((c) => c.taskId);
          const preview = latest ? cardHtml(tracking.renderCard(group, latest)) : `<p class="meta">${escapeHtml(t('alerts.noCard'))}</p>`;
          const level = t('alerts.level', { level: view.escalation.level, levels: view.escalation.levels });
          const meta = [
            `<code>${escapeHtml(view.id)}</code>`,
            `<b class="state">${escapeHtml(stateOf(view, t))}</b>`,
            `<span class="when">${escapeHtml(when)}</span>`,
            escapeHtml(level),
            escapeHtml(t('alerts.sent', { count: cards.length })),
          ];
          return `<div class="alert" data-alert="${escapeHtml(view.id)}"><div class="meta">${meta.join(' · ')}</div>${preview}</div>`;
        }),
      );
      return `<div class="alerts">${entries.join('') || `<p>${escapeHtml(t('alerts.none'))}</p>`}</div>`;
    },
  };
}
