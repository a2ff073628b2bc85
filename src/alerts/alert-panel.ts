import type { DashboardPanel } from '../core';
import { cardHtml } from '../console/preview';
import { escapeHtml } from '../ops/html';
import type { AlertGroups } from './alert-groups';
import type { AlertTracking } from './alert-tracking';
import { alertView, type AlertView } from './state-routes';


/** `2 d 3 h`, `2 h 5 min`, `12 min`: the operators' console speaks English. */
const spanText = ({ days, hours, minutes }: { days: number; hours: number; minutes: number }) => (days ? `${days} d ${hours} h` : hours ? `${hours} h ${minutes} min` : `${minutes} min`);

function stateOf(view: AlertView): string {
  if (view.status === 'acked' && view.acked) return `acked by ${view.acked.name ?? view.acked.by}`;
  if (view.silence) return `${view.status}; silence ${view.silence.state} by ${view.silence.name ?? view.silence.by} for ${view.silence.duration}${view.silence.id ? ` (${view.silence.id})` : ''}${view.silence.error ? `: ${view.silence.error}` : ''}`;
  return view.status;
}

/** The console's alert groups: their state, escalation level, and each group's latest card as members see it. */
export function alertPanel(groups: AlertGroups, tracking: AlertTracking): DashboardPanel {
  return {
    id: 'alerts',
    title: 'Alert groups',
    async html() {
      const recent = await groups.recent(12);
      const entries = await Promise.all(
        recent.map(async (group) => {
          const cards = await groups.cards(group.id);
          const view = alertView(group, cards, tracking.levelsOf(group.route, group.event).length);
          const times = tracking.timesOf(group);
          const when = `since ${times.since}${times.lasted ? ` · lasted ${spanText(times.lasted)}` : ''}`;
          const latest = [...cards].reverse().find((c) => c.taskId);
          const preview = latest ? cardHtml(tracking.renderCard(group, latest)) : '<p class="meta">No card (sent as a message).</p>';
          return `<div class="alert" data-alert="${escapeHtml(view.id)}"><div class="meta"><code>${escapeHtml(view.id)}</code> · <b class="state">${escapeHtml(stateOf(view))}</b> · <span class="when">${escapeHtml(when)}</span> · level ${view.escalation.level}/${view.escalation.levels} · ${cards.length} sent</div>${preview}</div>`;
        }),
      );
      return `<div class="alerts">${entries.join('') || '<p>No alert groups yet.</p>'}</div>`;
    },
  };
}
