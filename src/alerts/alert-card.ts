import type { AlertCard, AlertGroup, Destination } from './alert-groups';
import { timesData, type NotificationData } from './alert-data';
import type { Duration } from './escalation-config';
import { BUTTON_OPENS_URL, BUTTON_STYLE, CARD_LIMITS } from '../wecom/card';

/**
 * What an alert card holds in each state, as template data: facts and button
 * keys, never words. The event's `template_card` form words and lays it out
 * (templates/alert.notification.yaml), so every text on the card comes from the
 * template. Button keys begin with `ack` and `silence` (CONTRACT.md), so a click
 * names its action; `silence:1h` carries its duration.
 */
export interface CardData {
  taskId: string;
  /**
   * The card went to an escalation level: whom the group went to before, who did not act (each by kind and id, for the template to word).
   */
  escalatedFrom: RecipientRef[] | null;
  /** Up to 6 alerts: each one's key label value (or name) and its summary. */
  items: { key: string; text: string }[];
  /** Alerts in the group, and how many the items show. */
  count: number;
  shown: number;
  /** Every button has each field (null where it has none), so a template can read any of them. */
  buttons: CardButton[];
  /** Nothing is left to click (silenced, resolved, acked with no silence): the template's replacement text shows. */
  done: boolean;
  /** What a silence would match (`alertname=DiskFull, instance=db1:9100`), shown before anyone clicks; null without silence buttons. */
  silenceScope: string | null;
}

export interface CardButton {
  kind: 'ack' | 'silence' | 'link';
  /** The callback key (ack, silence:1h); null for a link. */
  key: string | null;
  /** WeCom's button style (BUTTON_STYLE). */
  style: number;
  /** A silence button's duration as configured (`1h`). */
  duration: string | null;
  /** A link button: what it opens (generator, grafana, runbook), its URL, and WeCom's type 1 (open a page). */
  link: string | null;
  url: string | null;
  type: typeof BUTTON_OPENS_URL | null;
}

/** The group's state as the templates word it: who acked, the silence, when it ended. */
export interface StateData {
  status: AlertGroup['status'];
  acked: { who: string; by: string } | null;
  silence: { state: 'pending' | 'created' | 'failed'; duration: string; who: string; by: string; error: string | null } | null;
  /** Whom it was handed to (their name when the contact mirror knows it), by whom. */
  assigned: { to: string; toWho: string; who: string; by: string } | null;
}

/** One recipient as templates word it: `{{#eq kind "robot"}}机器人 {{/eq}}{{id}}`. */
export interface RecipientRef {
  kind: 'user' | 'party' | 'tag' | 'oncall' | 'robot' | 'chat';
  id: string;
}

export function recipientRefs(to: Destination): RecipientRef[] {
  const refs = (kind: RecipientRef['kind'], ids: string[] | undefined) => (ids ?? []).map((id) => ({ kind, id }));
  return [
    ...refs('user', to.users),
    ...refs('party', to.parties),
    ...refs('tag', to.tags),
    ...refs('oncall', to.oncall),
    ...refs('robot', to.robots),
    ...refs('chat', to.chats),
  ];
}

export const ACK_KEY = 'ack';
export const SILENCE_KEY = 'silence';

/** A click's action, from its button key: `ack`, or `silence:<duration>`. */
export function actionOf(
  key: string | undefined,
  durations: Duration[],
): { kind: 'ack' } | { kind: 'silence'; duration: Duration } | undefined {
  if (key === ACK_KEY) return { kind: 'ack' };
  const [prefix, text] = (key ?? '').split(':');
  const duration = durations.find((d) => d.text === text);
  return prefix === SILENCE_KEY && duration ? { kind: 'silence', duration } : undefined;
}

const who = (actor: { by: string; name?: string }) => actor.name ?? actor.by;

export function stateData(group: AlertGroup): StateData {
  const { acked, silence, assigned } = group;
  return {
    status: group.status,
    assigned: assigned ? { to: assigned.to, toWho: assigned.toName ?? assigned.to, who: who(assigned), by: assigned.by } : null,
    acked: acked ? { who: who(acked), by: acked.by } : null,
    // Never "created" before Alertmanager said so: pending until it has an id.
    silence: silence
      ? {
          state: silence.id ? 'created' : silence.error ? 'failed' : 'pending',
          duration: silence.duration,
          who: who(silence),
          by: silence.by,
          error: silence.error ?? null,
        }
      : null,
  };
}

const button = (fields: Partial<CardButton> & Pick<CardButton, 'kind' | 'style'>): CardButton => ({
  key: null,
  duration: null,
  link: null,
  url: null,
  type: null,
  ...fields,
});

/** The card of `group` as it stands, for one of its cards (its task_id and escalation level). */
export function cardData(group: AlertGroup, card: Pick<AlertCard, 'taskId' | 'from'>, durations: Duration[]): CardData {
  const data = group.data as unknown as NotificationData;
  const shown = data.alerts.slice(0, CARD_LIMITS.horizontalItems);
  const canSilence = group.silenceVia !== undefined && Object.keys(group.matchers).length > 0;
  const open = group.status === 'firing' || group.status === 'acked';
  const ack = button({ kind: 'ack', key: ACK_KEY, style: BUTTON_STYLE.primary });
  const silences = canSilence
    ? durations.map((d) => button({ kind: 'silence', key: `${SILENCE_KEY}:${d.text}`, style: BUTTON_STYLE.secondary, duration: d.text }))
    : [];
  const actions: CardButton[] = open ? [...(group.acked ? [] : [ack]), ...silences] : [];
  const links = (data.links ?? []).map((l) =>
    button({ kind: 'link', style: BUTTON_STYLE.link, link: l.kind, url: l.url, type: BUTTON_OPENS_URL }),
  );
  // A card needs one button at least: with nothing left to click, a grey ack button holds the replacement text.
  const buttons = [...(actions.length > 0 ? actions : [ack]), ...links].slice(0, CARD_LIMITS.buttons);
  return {
    taskId: card.taskId ?? '',
    escalatedFrom: card.from ? recipientRefs(card.from) : null,
    items: shown.map((alert) => ({
      key: alert.key,
      text: data.sameName ? alert.summary || alert.value || alert.severity : `${alert.name} ${alert.summary}`.trim(),
    })),
    count: data.count,
    shown: shown.length,
    buttons,
    done: actions.length === 0,
    silenceScope:
      canSilence && open
        ? Object.entries(group.matchers)
            .map(([name, value]) => `${name}=${value}`)
            .join(', ')
        : null,
  };
}

/** When the group began and, once resolved, how long it lasted, in `timeZone` as of `now`. */
export function groupTimes(group: AlertGroup, timeZone: string, now: number) {
  return timesData(group.firingSince, group.status === 'resolved' ? (group.resolvedAt ?? group.updatedAt) : undefined, timeZone, now);
}

/** The alert's page members open from a robot or chat message (member-page.ts serves it), when PUBLIC_URL is set. */
export function alertPageUrl(publicUrl: string | undefined, groupId: string): string | null {
  return publicUrl ? `${publicUrl}/alerts/${groupId}` : null;
}

/**
 * The group as templates see it: its alerts, its times and state, the link to its page (`pageUrl`, null without
 * PUBLIC_URL), and what one message adds (a card, escalation, a notice).
 */
export function groupTemplateData(
  group: AlertGroup,
  settings: { timeZone: string; publicUrl?: string },
  now: number,
  extras: Record<string, unknown> = {},
): Record<string, unknown> {
  const pageUrl = alertPageUrl(settings.publicUrl, group.id);
  return { ...group.data, ...groupTimes(group, settings.timeZone, now), state: stateData(group), pageUrl, ...extras };
}
