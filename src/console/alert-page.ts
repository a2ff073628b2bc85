import { escapeHtml } from '../ops/html';
import type { AlertCard, AlertGroup, AlertGroups } from '../alerts/alert-groups';
import type { TimelineEntry } from '../alerts/alert-timeline';
import type { AlertTracking } from '../alerts/alert-tracking';
import { alertView, type AlertView } from '../alerts/state-routes';
import type { MessageView } from '../messages/message-record';
import type { OnCallDirectory as FullDirectory } from '../messages/oncall-recipients';
import type { ConsoleLocale, StringKey, Translate } from './locale';
import { table } from './page';

/** Who is on call now, by schedule name (oncall/on-call.ts's OnCall, wired by the gateway). */
export type OnCallDirectory = Pick<FullDirectory, 'usersOnCall'>;

/** Where a member's ack, assignment or silence goes (alerts/alert-commands.ts's AlertCommands), and what it answers. */
export interface AlertActions {
  ack(groupId: string, command: { by: string; via: 'console' | 'page' }): Promise<ActionResult>;
  assign(groupId: string, command: { by: string; via: 'console' | 'page'; to: string }): Promise<ActionResult>;
  silence(groupId: string, command: { by: string; via: 'console' | 'page'; duration: string }): Promise<ActionResult>;
}

export interface ActionResult {
  outcome: string;
  group?: AlertGroup;
  reason?: string;
}

/** What an alert group's page reads: the group and its cards, its route, each message's delivery, who is on call. */
export interface AlertPageDeps {
  groups: AlertGroups;
  tracking: AlertTracking;
  store: { get(id: string): Promise<MessageView | undefined> };
  onCall?: OnCallDirectory;
}

/** `2 d 3 h`, `2 h 5 min`, `12 min` (`2 天 3 小时`…): as the templates' `lasted` partial words it, in the console's language. */
export const spanText = ({ days, hours, minutes }: { days: number; hours: number; minutes: number }, t: Translate) =>
  days ? t('alerts.days', { days, hours }) : hours ? t('alerts.hours', { hours, minutes }) : t('alerts.minutes', { minutes });

const SILENCE_STATES: Record<string, StringKey | undefined> = {
  created: 'alerts.silence.created',
  failed: 'alerts.silence.failed',
  pending: 'alerts.silence.pending',
};

/** The group's state in words: who acked, the silence and its state. */
export function stateOf(view: AlertView, t: Translate): string {
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

/** `sre: ops1, ops2 · dba: lee`: whoever is on call for the schedules the group's route pages (its `oncall:` list). */
export async function onCallOf(group: AlertGroup, deps: Pick<AlertPageDeps, 'tracking' | 'onCall'>): Promise<string> {
  const route = deps.tracking.routeNamed(group.route) as { oncall?: string[] } | undefined;
  const names = route?.oncall ?? [];
  if (!deps.onCall || names.length === 0) return '';
  const onCall = deps.onCall;
  const who = await Promise.all(
    names.map(async (name) => `${name}: ${(await onCall.usersOnCall(name).catch(() => [])).join(', ') || '—'}`),
  );
  return who.join(' · ');
}

export const viewOf = (group: AlertGroup, cards: AlertCard[], tracking: AlertTracking) =>
  alertView(group, cards, tracking.levelsOf(group.route, group.event).length);

/** Since when, or how long it lasted: as the cards say it, in ALERT_TIMEZONE. */
export function whenOf(group: AlertGroup, tracking: AlertTracking, t: Translate): string {
  const times = tracking.timesOf(group);
  const lasted = times.lasted ? ` · ${t('alerts.lasted', { span: spanText(times.lasted, t) })}` : '';
  return `${t('alerts.since', { time: times.since })}${lasted}`;
}

/** The group's facts: state, severity, route, when, escalation, who is on call, who it is assigned to. */
export async function alertFacts(group: AlertGroup, view: AlertView, deps: AlertPageDeps, { t }: ConsoleLocale): Promise<string> {
  const { assigned } = group;
  const onCall = await onCallOf(group, deps);
  const rows: [StringKey, string][] = [
    [
      'alertPage.state',
      stateOf(view, t) +
        (assigned ? ` · ${t('alertList.assigned', { to: assigned.toName ?? assigned.to, by: assigned.name ?? assigned.by })}` : ''),
    ],
    ['alertPage.severity', group.severity],
    ['alertPage.route', group.route ?? '—'],
    ['alertPage.when', whenOf(group, deps.tracking, t)],
    ['alertPage.escalation', t('alerts.level', { level: view.escalation.level, levels: view.escalation.levels })],
    ...(onCall ? [['alertPage.onCall', onCall] as [StringKey, string]] : []),
  ];
  const facts = rows.map(([key, value]) => `<dt>${escapeHtml(t(key))}</dt><dd class="${key.split('.')[1]}">${escapeHtml(value)}</dd>`);
  return `<dl class="facts">${facts.join('')}</dl>`;
}

/** Whether a message reached its recipients, as GET /v1/messages/{id} says (its robot and chat parts each). */
function deliveredOf(message: MessageView | undefined, { t }: ConsoleLocale): string {
  if (!message) return escapeHtml(t('alertPage.unknownMessage'));
  const parts = message.deliveries?.length ? message.deliveries : [{ to: '', status: message.status, error: message.error }];
  return parts
    .map((p) => {
      const error = p.error ? ` <small>${escapeHtml(`${p.error.errcode} ${p.error.errmsg}`)}</small>` : '';
      const what = `${p.to ? `${p.to}: ` : ''}${t(`status.${p.status}`)}`;
      return `<span class="status ${escapeHtml(p.status)}">${escapeHtml(what)}</span>${error}`;
    })
    .join('<br>');
}

/** The group's timeline, oldest first: each step, who did it or whom it went to, and for messages whether they were delivered. */
export async function timelineHtml(entries: TimelineEntry[], deps: Pick<AlertPageDeps, 'store'>, locale: ConsoleLocale): Promise<string> {
  const { t } = locale;
  const messages = await Promise.all(entries.map(async (e) => (e.messageId ? deps.store.get(e.messageId) : undefined)));
  const rows = entries.map((entry, i) => {
    const step = [
      t(`timeline.${entry.kind}`),
      ...(entry.level ? [t('alertPage.level', { level: entry.level })] : []),
      ...(entry.detail ? [entry.detail] : []),
    ].join(' · ');
    const who = [entry.by, entry.to ? `→ ${entry.to}` : ''].filter(Boolean).join(' ');
    const delivered = entry.messageId ? deliveredOf(messages[i], locale) : '';
    return (
      `<tr class="step ${escapeHtml(entry.kind)}"><td>${escapeHtml(locale.time(entry.at))}</td><td class="what">${escapeHtml(step)}</td>` +
      `<td>${escapeHtml(who)}</td><td>${delivered}</td></tr>`
    );
  });
  return table([t('alertPage.time'), t('alertPage.step'), t('alertPage.who'), t('alertPage.delivered')], rows, '—');
}

/**
 * The ack, assign and silence buttons, each a form posting to `actionUrl(name)` with the
 * group's id; `by`: a field for who acts (the console's) or nothing (the member's page knows).
 */
export function actionForms(
  group: AlertGroup,
  options: { actionUrl: (name: string) => string; durations: string[]; byField: boolean },
  { t }: ConsoleLocale,
): string {
  if (group.status === 'resolved' || group.status === 'silenced')
    return `<p class="meta">${escapeHtml(t('alertPage.closed', { status: t(`alerts.${group.status}`) }))}</p>`;
  const id = `<input type="hidden" name="id" value="${escapeHtml(group.id)}">`;
  const by = options.byField
    ? `<label>${escapeHtml(t('alertPage.by'))} <input name="by" placeholder="${escapeHtml(t('alertPage.byDefault'))}"></label>`
    : '';
  const form = (name: string, inner: string) =>
    `<form method="post" action="${escapeHtml(options.actionUrl(name))}" class="filters action-${name}">${id}${by}${inner}</form>`;
  const canSilence = group.silenceVia !== undefined && Object.keys(group.matchers).length > 0 && group.status !== 'silencing';
  const silences = canSilence
    ? options.durations.map(
        (d) =>
          `<button type="submit" name="duration" value="${escapeHtml(d)}">${escapeHtml(t('alertPage.silence', { duration: d }))}</button>`,
      )
    : [];
  return [
    group.acked ? '' : form('ack', `<button type="submit" class="primary">${escapeHtml(t('alertPage.ack'))}</button>`),
    form(
      'assign',
      `<label>${escapeHtml(t('alertPage.assignTo'))} <input name="to" required></label>` +
        `<button type="submit">${escapeHtml(t('alertPage.assign'))}</button>`,
    ),
    silences.length ? form('silence', silences.join(' ')) : '',
  ].join('');
}

/** What an action did, as the notice after it says. */
/** The actions a group's page offers, as their forms post them. */
export const ACTIONS = ['ack', 'assign', 'silence'] as const;
export type ActionKind = (typeof ACTIONS)[number];

/**
 * A form's action on the group through AlertCommands, from the console or the member's
 * page: the notice it answers (the missing field named, or what the action did).
 */
export async function takeAction(
  commands: AlertActions,
  kind: ActionKind,
  groupId: string,
  asked: { by: string; to?: string; duration?: string; via: 'console' | 'page' },
  locale: ConsoleLocale,
): Promise<string> {
  const { by, to, duration, via } = asked;
  const missing = kind === 'assign' && !to ? 'to' : kind === 'silence' && !duration ? 'duration' : undefined;
  if (missing) return locale.t('alertPage.missing', { field: missing });
  const result =
    kind === 'ack'
      ? await commands.ack(groupId, { by, via })
      : kind === 'assign'
        ? await commands.assign(groupId, { by, via, to: to! })
        : await commands.silence(groupId, { by, via, duration: duration! });
  return outcomeText(result, { by, to, duration }, locale);
}

function outcomeText(result: ActionResult, asked: { by: string; to?: string; duration?: string }, { t }: ConsoleLocale): string {
  const status = result.group ? t(`alerts.${result.group.status}`) : '';
  const vars = { by: asked.by, to: asked.to ?? '', duration: asked.duration ?? '', status, reason: result.reason ?? '' };
  return t(`alertPage.outcome.${result.outcome}` as StringKey, vars);
}
