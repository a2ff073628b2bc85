import type { Duration } from './escalation-config';
import type { AlertCard, AlertGroup } from './alert-groups';

/**
 * What an alert card shows in each state, as template data (`card`): the
 * event's `template_card` form lays it out (templates/alert.notification.yaml).
 * Button keys begin with `ack` and `silence` (CONTRACT.md), so a click names
 * its action; `silence:1h` carries its duration.
 */
export interface CardData {
  taskId: string;
  source: string;
  title: string;
  subtitle: string;
  /** The card's status lines: what was done, escalation, "5 of 8 shown". */
  state?: string;
  items: { keyname: string; value: string }[];
  buttons: CardButton[];
  /** Set once nothing is left to click (silenced, resolved): the buttons turn into this grey text. */
  replaceText?: string;
}

export type CardButton = { text: string; style: number; key: string } | { text: string; style: number; type: 1; url: string };

export const ACK_KEY = 'ack';
export const SILENCE_KEY = 'silence';
/** WeCom's limits (reference §15): 6 buttons, 6 horizontal items. */
const MAX_BUTTONS = 6;
const MAX_ITEMS = 6;

/** A click's action, from its button key: `ack`, or `silence:<duration>`. */
export function actionOf(key: string | undefined, durations: Duration[]): { kind: 'ack' } | { kind: 'silence'; duration: Duration } | undefined {
  if (key === ACK_KEY) return { kind: 'ack' };
  const [prefix, text] = (key ?? '').split(':');
  const duration = durations.find((d) => d.text === text);
  return prefix === SILENCE_KEY && duration ? { kind: 'silence', duration } : undefined;
}

const clip = (text: string, max: number) => ([...text].length > max ? `${[...text].slice(0, max - 1).join('')}…` : text);
const who = (actor: { by: string; name?: string }) => actor.name ?? actor.by;

export function lasted(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

interface ShownAlert {
  name: string;
  severity: string;
  summary: string;
  labels: string;
}

interface Links {
  name: string;
  url: string;
}

const firstLabelValue = (alert: ShownAlert) => /^[^=\s]+=(\S+)/.exec(alert.labels)?.[1];

/** The card of `group` as it stands, for one of its cards (its task_id and escalation level). */
export function cardData(group: AlertGroup, card: Pick<AlertCard, 'taskId' | 'from'>, options: { durations: Duration[]; timeZone: string }): CardData {
  const data = group.data as { alerts: ShownAlert[]; count: number; links?: Links[]; statusText?: string };
  const shown = data.alerts.slice(0, MAX_ITEMS);
  const time = new Intl.DateTimeFormat('sv-SE', { timeZone: options.timeZone, timeStyle: 'short' }).format(new Date(group.firingSince));
  const lines: string[] = [];
  if (card.from) lines.push(`⏫ 升级自 ${card.from}：无人处理`);
  if (group.acked) lines.push(`已认领 · ${who(group.acked)}`);
  if (group.silence?.error) lines.push(`静默失败 · silence failed: ${group.silence.error}`);
  if (shown.length < data.count) lines.push(`${shown.length} of ${data.count} shown`);

  // Alerts of one name tell apart by their first other label (instance=db1:9100 -> db1:9100).
  const sameName = new Set(shown.map((a) => a.name)).size === 1;
  const resolved = group.status === 'resolved';
  const silenceButtons = Object.keys(group.matchers).length > 0 ? options.durations.map((d) => ({ text: `静默 ${d.text}`, style: 2, key: `${SILENCE_KEY}:${d.text}` })) : [];
  const actions: CardButton[] = [...(group.acked ? [] : [{ text: '认领', style: 1, key: ACK_KEY }]), ...silenceButtons];
  // A card needs one button at least: an acked group nobody may silence keeps its grey "acked" one.
  const links: CardButton[] = (data.links ?? []).map((link) => ({ text: link.name, style: 3, type: 1 as const, url: link.url }));
  const buttons = [...(actions.length > 0 ? actions : [{ text: '认领', style: 1, key: ACK_KEY }]), ...links].slice(0, MAX_BUTTONS);
  let replaceText: string | undefined;
  if (resolved) replaceText = `已恢复 · lasted ${lasted((group.resolvedAt ?? Date.now()) - group.firingSince)}`;
  else if (group.status === 'silenced' && group.silence) replaceText = `已静默 ${group.silence.duration} · ${who(group.silence)}`;
  else if (actions.length === 0 && group.acked) replaceText = `已认领 · ${who(group.acked)}`;

  return {
    taskId: card.taskId ?? '',
    source: group.source === 'grafana' ? 'Grafana' : 'Alertmanager',
    title: clip(`${resolved ? '✅' : '🔥'} [${group.severity}] ${group.title}`, 36),
    subtitle: clip(resolved ? `resolved · ${data.count} alert(s)` : `firing since ${time} · ${data.count} alert(s)`, 44),
    ...(lines.length > 0 ? { state: lines.join('\n') } : {}),
    items: shown.map((alert) => ({ keyname: clip(sameName ? firstLabelValue(alert) ?? alert.name : alert.name, 12), value: clip(alert.summary || alert.labels || alert.severity, 30) })),
    buttons,
    ...(replaceText ? { replaceText } : {}),
  };
}
