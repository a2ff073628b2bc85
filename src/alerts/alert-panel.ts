import type { DashboardPanel } from '../core';
import { escapeHtml } from '../ops/html';
import type { AlertGroups } from './alert-groups';
import type { AlertTracking } from './alert-tracking';
import { alertView, type AlertView } from './state-routes';


type Card = {
  source?: { desc?: string };
  main_title?: { title?: string; desc?: string };
  sub_title_text?: string;
  horizontal_content_list?: { keyname?: string; value?: string }[];
  button_list?: { text?: string; style?: number; key?: string; url?: string }[];
  replace_text?: string;
};

/** A button_interaction card roughly as the WeCom client draws it: what members see now. */
export function cardHtml(card: Card): string {
  const items = (card.horizontal_content_list ?? []).map((i) => `<div class="item"><span>${escapeHtml(i.keyname)}</span>${escapeHtml(i.value)}</div>`).join('');
  const buttons = card.replace_text
    ? `<div class="buttons"><span class="button done">${escapeHtml(card.replace_text)}</span></div>`
    : `<div class="buttons">${(card.button_list ?? []).map((b) => `<span class="button ${b.url ? 'link' : b.style === 1 ? 'primary' : ''}">${escapeHtml(b.text)}</span>`).join('')}</div>`;
  return `<div class="card"><div class="source">${escapeHtml(card.source?.desc)}</div><div class="title">${escapeHtml(card.main_title?.title)}</div><div class="desc">${escapeHtml(card.main_title?.desc)}</div>${
    card.sub_title_text ? `<div class="sub">${escapeHtml(card.sub_title_text).replace(/\n/g, '<br>')}</div>` : ''
  }<div class="items">${items}</div>${buttons}</div>`;
}

function stateOf(view: AlertView): string {
  if (view.status === 'acked' && view.acked) return `acked by ${view.acked.name ?? view.acked.by}`;
  if (view.silence) return `${view.status}; silence ${view.silence.state} by ${view.silence.name ?? view.silence.by} for ${view.silence.duration}${view.silence.id ? ` (${view.silence.id})` : ''}${view.silence.error ? `: ${view.silence.error}` : ''}`;
  return view.status;
}

const STYLE = `<style>
.alerts{display:flex;flex-wrap:wrap;gap:1rem;margin-bottom:2rem}.alert{width:21rem}.alert .meta{color:#646a73;font-size:12px;margin:.25rem 0}
.card{background:#fff;border:1px solid #e5e6eb;border-radius:8px;padding:12px 14px;box-shadow:0 1px 3px #0001;font-family:"PingFang SC","Microsoft YaHei",system-ui,sans-serif}
.card .source{color:#8f959e;font-size:12px}.card .title{font-weight:600;font-size:16px;margin-top:6px}.card .desc{color:#8f959e;font-size:13px}
.card .sub{margin-top:8px;color:#1f2329;font-size:13px}.card .items{margin-top:8px}.card .item{font-size:13px;color:#1f2329;line-height:1.7}
.card .item span{display:inline-block;min-width:5.5rem;color:#8f959e}.card .buttons{display:flex;flex-wrap:wrap;gap:6px;margin-top:10px}
.card .button{border:1px solid #d0d3d6;border-radius:4px;padding:3px 10px;font-size:13px;color:#1f2329}.card .primary{background:#3370ff;border-color:#3370ff;color:#fff}
.card .link{color:#3370ff}.card .done{background:#f2f3f5;color:#8f959e;border-color:#f2f3f5;flex:1;text-align:center}
</style>`;

/** The dashboard's alert groups: their state, escalation level, and each group's latest card as members see it. */
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
          const latest = [...cards].reverse().find((c) => c.taskId);
          const preview = latest ? cardHtml(tracking.renderCard(group, latest) as Card) : '<p class="meta">No card (sent as a message).</p>';
          return `<div class="alert" data-alert="${escapeHtml(view.id)}"><div class="meta"><code>${escapeHtml(view.id)}</code> · <b class="state">${escapeHtml(stateOf(view))}</b> · level ${view.escalation.level}/${view.escalation.levels} · ${cards.length} sent</div>${preview}</div>`;
        }),
      );
      return `${STYLE}<div class="alerts">${entries.join('') || '<p>No alert groups yet.</p>'}</div>`;
    },
  };
}
