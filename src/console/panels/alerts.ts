import type { ConsoleLocale } from '../locale';
import type { DashboardPanel, PanelAction } from '../panel';
import { table } from '../page';
import { cardHtml } from '../preview';
import { escapeHtml } from '../../ops/html';
import type { AlertGroup } from '../../alerts/alert-groups';
import { ALERT_STATUSES } from '../../alerts/alert-state';
import {
  actionForms,
  alertFacts,
  onCallOf,
  takeAction,
  type ActionKind,
  stateOf,
  timelineHtml,
  viewOf,
  whenOf,
  type AlertActions,
  type AlertPageDeps,
} from '../alert-page';
import { heldHtml, type HeldList } from './held';

/** The list's filters, as query parameters: `state` (open by default, `all`, or one status), severity, alertname, route. */
export interface AlertFilter {
  state?: string;
  severity?: string;
  alertname?: string;
  route?: string;
}

const OPEN = new Set(['firing', 'acked', 'silencing', 'silenced']);
/** How many groups the list reads (the newest kept) before filtering. */
const LISTED = 200;

const namesOf = (group: AlertGroup) => ((group.data.alerts ?? []) as { name?: string }[]).map((a) => a.name ?? '');
const keysOf = (group: AlertGroup) => [...new Set(((group.data.alerts ?? []) as { key?: string }[]).map((a) => a.key ?? ''))];

export function matches(group: AlertGroup, filter: AlertFilter): boolean {
  const state = filter.state ?? 'open';
  if (state === 'open' ? !OPEN.has(group.status) : state !== 'all' && group.status !== state) return false;
  if (filter.severity && group.severity !== filter.severity) return false;
  if (filter.route && group.route !== filter.route) return false;
  return !filter.alertname || namesOf(group).includes(filter.alertname) || group.title === filter.alertname;
}

function filterForm(filter: AlertFilter, routes: string[], { t }: ConsoleLocale): string {
  const select = (name: string, label: string, options: [string, string][], value = '') =>
    `<label>${escapeHtml(label)}<select name="${name}">${options
      .map(([v, text]) => `<option value="${escapeHtml(v)}"${v === value ? ' selected' : ''}>${escapeHtml(text)}</option>`)
      .join('')}</select></label>`;
  const states: [string, string][] = [
    ['open', t('alertList.open')],
    ['all', t('alertList.all')],
    ...ALERT_STATUSES.map((s): [string, string] => [s, t(`alerts.${s}`)]),
  ];
  const input = (name: keyof AlertFilter, label: string) =>
    `<label>${escapeHtml(label)}<input name="${name}" value="${escapeHtml(filter[name] ?? '')}"></label>`;
  return (
    `<form method="get" class="filters">${select('state', t('alertList.state'), states, filter.state ?? 'open')}` +
    input('severity', t('alertList.severity')) +
    input('alertname', t('alertList.alertname')) +
    select('route', t('alertList.route'), [['', t('alertList.any')], ...routes.map((r): [string, string] => [r, r])], filter.route) +
    `<button type="submit">${escapeHtml(t('alertList.filter'))}</button></form>`
  );
}

const field = (fields: Record<string, string>, name: string) => fields[name]?.trim() || undefined;

/**
 * The console's alert groups: the list (open ones by default) with who is on call and
 * who acked, and each group's page with its latest card, its timeline and the ack,
 * assign and silence buttons. The console knows keys, not members: who acts is the
 * form's `by`, the key's name when left empty.
 */
export function alertPanel(deps: AlertPageDeps & { commands?: AlertActions; routes: string[]; held?: HeldList }): DashboardPanel {
  const { groups, tracking } = deps;
  const act =
    (kind: ActionKind): PanelAction['act'] =>
    async (fields, caller, locale) => {
      const id = field(fields, 'id') ?? '';
      if (!deps.commands) return { notice: locale.t('alertPage.missing', { field: 'commands' }), back: id };
      const asked = {
        by: field(fields, 'by') ?? caller.id,
        to: field(fields, 'to'),
        duration: field(fields, 'duration'),
        via: 'console' as const,
      };
      return { notice: await takeAction(deps.commands, kind, id, asked, locale), back: id };
    };
  return {
    id: 'alerts',
    title: 'alerts.title',
    async html(basePath, locale, query) {
      const { t } = locale;
      const filter: AlertFilter = { state: query.state, severity: query.severity, alertname: query.alertname, route: query.route };
      const listed = (await groups.recent(LISTED)).filter((g) => matches(g, filter));
      const rows = await Promise.all(
        listed.map(async (group) => {
          const view = viewOf(group, [], tracking);
          const { assigned } = group;
          const handled = [
            group.acked ? t('alerts.ackedBy', { name: group.acked.name ?? group.acked.by }) : '',
            assigned ? t('alertList.assigned', { to: assigned.toName ?? assigned.to, by: assigned.name ?? assigned.by }) : '',
          ].filter(Boolean);
          const cells = [
            `<a href="${escapeHtml(`${basePath}/${group.id}`)}">${escapeHtml(group.title)}</a>`,
            escapeHtml(keysOf(group).slice(0, 3).join(', ')),
            escapeHtml(group.severity),
            escapeHtml(whenOf(group, tracking, t)),
            `<span class="state">${escapeHtml(stateOf(view, t))}</span>`,
            escapeHtml(await onCallOf(group, deps)),
            escapeHtml(handled.join(' · ')),
          ];
          const row = cells.map((c) => `<td>${c}</td>`).join('');
          return `<tr data-alert="${escapeHtml(group.id)}" class="${escapeHtml(group.status)}">${row}</tr>`;
        }),
      );
      const headers = [
        'alertList.alert',
        'alertList.key',
        'alertList.severity',
        'alertList.age',
        'alertList.state',
        'alertList.onCall',
        'alertList.handled',
      ] as const;
      return (
        heldHtml((await deps.held?.list()) ?? [], locale) +
        filterForm(filter, deps.routes, locale) +
        table(
          headers.map((h) => t(h)),
          rows,
          t('alertList.none'),
        )
      );
    },
    async item(id, basePath, locale) {
      const group = /^[0-9a-f]{20}$/.test(id) ? await groups.get(id) : undefined;
      if (!group) return undefined;
      const { t } = locale;
      const [cards, timeline] = await Promise.all([groups.cards(id), groups.timeline.of(id)]);
      const latest = [...cards].reverse().find((c) => c.taskId);
      const card = latest ? cardHtml(tracking.renderCard(group, latest)) : `<p class="meta">${escapeHtml(t('alerts.noCard'))}</p>`;
      const durations = tracking.durationsOf(group.route).map((d) => d.text);
      const forms = deps.commands
        ? actionForms(group, { actionUrl: (name) => `${basePath}/${name}`, durations, byField: true }, locale)
        : '';
      const body =
        `<div class="alert-page" data-alert="${escapeHtml(id)}">${await alertFacts(group, viewOf(group, cards, tracking), deps, locale)}` +
        (forms ? `<h2>${escapeHtml(t('alertPage.actions'))}</h2><div class="actions">${forms}</div>` : '') +
        `<h2>${escapeHtml(t('alertPage.timeline'))}</h2><div class="timeline">${await timelineHtml(timeline, deps, locale)}</div>` +
        `<h2>${escapeHtml(t('alertPage.card'))}</h2><div class="alert">${card}</div></div>`;
      return { title: `[${group.severity}] ${group.title}`, body };
    },
    // As POST /v1/alerts/{id}/ack and its siblings: send.
    actions: {
      ack: { permission: 'send', act: act('ack') },
      assign: { permission: 'send', act: act('assign') },
      silence: { permission: 'send', act: act('silence') },
    },
  };
}
