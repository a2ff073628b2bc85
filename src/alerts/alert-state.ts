/**
 * The life of an alert group, written once: what each event does in each state.
 * Every driver goes through `decide` (webhooks, card clicks, the escalation and
 * silence jobs), so no call site decides a transition of its own, and its tests
 * are this table, one row a test (test/unit/alert-state.test.ts).
 *
 * `none` is a group the gateway does not know (never opened, folded into a
 * digest, expired, or lost with Redis). A resolved notification never opens a
 * group, sends a card with buttons or starts an escalation, whatever the gateway
 * remembers: without a group it goes out as a resolved message (or into the
 * digest) and nothing else.
 *
 * | event \ state  | none                     | firing              | acked          | silencing           | silenced       | resolved                 |
 * |----------------|--------------------------|---------------------|----------------|---------------------|----------------|--------------------------|
 * | firing         | firing: open, send, esc  | refresh, send       | refresh, send  | refresh, send       | refresh, send  | firing: open, send, esc ¹ |
 * | resolved       | sendResolved             | resolved: refresh, cards | resolved: refresh, cards | resolved: refresh, cards | resolved: refresh, cards | (repeat: nothing) |
 * | ack            |                          | acked: cards        | show           | show                | show           | show                     |
 * | silence        |                          | silencing: silence  | silencing: silence | show            | show           | show                     |
 * | assign         |                          | assign              | assign         | assign              | assign         | show                     |
 * | silenceCreated |                          |                     |                | silenced: cards     |                |                          |
 * | silenceFailed  |                          |                     |                | (back): show        |                |                          |
 * | escalate       |                          | escalate ²          |                | recheck             |                |                          |
 *
 * ¹ unless the notification is older than the resolution (a late replica's firing): nothing.
 * ² only while the group is at the level before the one due.
 *
 * Every driver is a member's action or a monitoring notification; the actions (ack,
 * assign, silence) come from any channel (a card's button, a text `ack`, the API,
 * the console, the alert's page) through one path, AlertCommands (alert-commands.ts).
 * An assignment changes no status: the assignee gets the card and acks it, and
 * escalation goes on until someone does.
 */
export type AlertStatus = 'firing' | 'acked' | 'silencing' | 'silenced' | 'resolved';
export const ALERT_STATUSES: AlertStatus[] = ['firing', 'acked', 'silencing', 'silenced', 'resolved'];

export type AlertEvent =
  /** A firing notification from Alertmanager or Grafana. */
  | 'firing'
  /** A resolved notification. */
  | 'resolved'
  /** A member acks it (card, text, API, console, page). */
  | 'ack'
  /** A member silences it for one of the route's durations. */
  | 'silence'
  /** It is handed to a member (指派). */
  | 'assign'
  /** The source's Alertmanager created the silence. */
  | 'silenceCreated'
  /** It refused, or stayed down through every attempt. */
  | 'silenceFailed'
  /** An escalation level fell due: nobody acted in time. */
  | 'escalate';

export type Effect =
  /** A new group (the scope's resolved one stays findable until then). */
  | 'open'
  /** The group takes the notification's alerts, matchers and times. */
  | 'refresh'
  /** The group's card (members) and messages (robots, chats) go to the level-0 recipients. */
  | 'send'
  /** Level 1's delayed job. */
  | 'startEscalation'
  /** No group to follow: a resolved message (never a card with buttons), through storm control, to the recipients. */
  | 'sendResolved'
  /** Every card of the group shows the new state; robots, chats and cards without a usable code are told by a message. */
  | 'updateCards'
  /** Only the clicked card shows the group as it stands (a click that changes nothing, a silence that failed). */
  | 'showState'
  /** The silence job: the group's matchers, in the source's own Alertmanager. */
  | 'createSilence'
  /** The next level's cards, and the level after's job. */
  | 'escalate'
  /** A silence is being created: the escalation job looks again later (it may still fail). */
  | 'recheckLater'
  /** The group names its assignee: every card says so, and the assignee gets the group's card. */
  | 'assign';

export interface Transition {
  /** The state after; `previous`: back where the group was before the silence click (acked or firing). Absent: unchanged. */
  to?: AlertStatus | 'previous';
  effects: Effect[];
}

const openGroup: Transition = { to: 'firing', effects: ['open', 'send', 'startEscalation'] };
const repeat: Transition = { effects: ['refresh', 'send'] };
const resolve: Transition = { to: 'resolved', effects: ['refresh', 'updateCards'] };
const show: Transition = { effects: ['showState'] };
const nothing: Transition = { effects: [] };
const assign: Transition = { effects: ['assign'] };

/** State × event -> the transition. A missing cell: the event does not apply (ignored). */
export const TRANSITIONS: Record<AlertEvent, Partial<Record<AlertStatus | 'none', Transition>>> = {
  firing: { none: openGroup, firing: repeat, acked: repeat, silencing: repeat, silenced: repeat, resolved: openGroup },
  resolved: {
    none: { effects: ['sendResolved'] },
    firing: resolve,
    acked: resolve,
    silencing: resolve,
    silenced: resolve,
    resolved: nothing,
  },
  ack: { firing: { to: 'acked', effects: ['updateCards'] }, acked: show, silencing: show, silenced: show, resolved: show },
  silence: {
    firing: { to: 'silencing', effects: ['createSilence'] },
    acked: { to: 'silencing', effects: ['createSilence'] },
    silencing: show,
    silenced: show,
    resolved: show,
  },
  assign: { firing: assign, acked: assign, silencing: assign, silenced: assign, resolved: show },
  silenceCreated: { silencing: { to: 'silenced', effects: ['updateCards'] } },
  silenceFailed: { silencing: { to: 'previous', effects: ['showState'] } },
  escalate: { firing: { effects: ['escalate'] }, silencing: { effects: ['recheckLater'] } },
};

/** What `event` does to a group in `status` (undefined: no group); undefined when it does not apply. */
export function decide(status: AlertStatus | undefined, event: AlertEvent): Transition | undefined {
  return TRANSITIONS[event][status ?? 'none'];
}

/**
 * The statuses from which `event` moves the group (or, for an event that changes no
 * status, such as assign, where it has that effect): the guard of its atomic step in Redis.
 */
export function statusesFor(event: AlertEvent, effect?: Effect): AlertStatus[] {
  return ALERT_STATUSES.filter((status) => {
    const step = TRANSITIONS[event][status];
    return effect === undefined ? step?.to !== undefined : step?.effects.includes(effect) === true;
  });
}
