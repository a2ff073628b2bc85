import {
  ALERT_STATUSES,
  decide,
  statusesFor,
  TRANSITIONS,
  type AlertEvent,
  type AlertStatus,
  type Effect,
} from '../../src/alerts/alert-state';

type Row = [AlertEvent, AlertStatus | 'none', AlertStatus | 'previous' | undefined, Effect[]];

/** The life of an alert group, one row a test: event, state, the state after (undefined: unchanged), effects. */
const rows: Row[] = [
  ['firing', 'none', 'firing', ['open', 'send', 'startEscalation']],
  ['firing', 'firing', undefined, ['refresh', 'send']],
  ['firing', 'acked', undefined, ['refresh', 'send']],
  ['firing', 'silencing', undefined, ['refresh', 'send']],
  ['firing', 'silenced', undefined, ['refresh', 'send']],
  ['firing', 'resolved', 'firing', ['open', 'send', 'startEscalation']],
  ['resolved', 'none', undefined, ['sendResolved']],
  ['resolved', 'firing', 'resolved', ['refresh', 'updateCards']],
  ['resolved', 'acked', 'resolved', ['refresh', 'updateCards']],
  ['resolved', 'silencing', 'resolved', ['refresh', 'updateCards']],
  ['resolved', 'silenced', 'resolved', ['refresh', 'updateCards']],
  ['resolved', 'resolved', undefined, []],
  ['ack', 'firing', 'acked', ['updateCards']],
  ['ack', 'acked', undefined, ['showState']],
  ['ack', 'silencing', undefined, ['showState']],
  ['ack', 'silenced', undefined, ['showState']],
  ['ack', 'resolved', undefined, ['showState']],
  ['silence', 'firing', 'silencing', ['createSilence']],
  ['silence', 'acked', 'silencing', ['createSilence']],
  ['silence', 'silencing', undefined, ['showState']],
  ['silence', 'silenced', undefined, ['showState']],
  ['silence', 'resolved', undefined, ['showState']],
  ['assign', 'firing', undefined, ['assign']],
  ['assign', 'acked', undefined, ['assign']],
  ['assign', 'silencing', undefined, ['assign']],
  ['assign', 'silenced', undefined, ['assign']],
  ['assign', 'resolved', undefined, ['showState']],
  ['silenceCreated', 'silencing', 'silenced', ['updateCards']],
  ['silenceFailed', 'silencing', 'previous', ['showState']],
  ['escalate', 'firing', undefined, ['escalate']],
  ['escalate', 'silencing', undefined, ['recheckLater']],
];

/** Every other cell: the event does not apply there, and nothing happens. */
const ignored: [AlertEvent, AlertStatus | 'none'][] = [
  ['ack', 'none'],
  ['silence', 'none'],
  ['assign', 'none'],
  ...(['none', 'firing', 'acked', 'silenced', 'resolved'] as const).flatMap(
    (s) =>
      [
        ['silenceCreated', s],
        ['silenceFailed', s],
      ] as [AlertEvent, AlertStatus | 'none'][],
  ),
  ...(['none', 'acked', 'silenced', 'resolved'] as const).map((s) => ['escalate', s] as [AlertEvent, AlertStatus | 'none']),
];

describe('the alert group state table', () => {
  it.each(rows)('when %s comes to a group that is %s, then it becomes %s with %j', (event, state, to, effects) => {
    expect(decide(state === 'none' ? undefined : state, event)).toEqual({ ...(to ? { to } : {}), effects });
  });

  it.each(ignored)('when %s comes to a group that is %s, then nothing happens', (event, state) => {
    expect(decide(state === 'none' ? undefined : state, event)).toBeUndefined();
  });

  it('when the table is read whole, then every cell is one of the rows above (none left untested)', () => {
    const cells = (Object.keys(TRANSITIONS) as AlertEvent[]).flatMap((event) =>
      Object.keys(TRANSITIONS[event]).map((state) => `${event} ${state}`),
    );
    expect(cells.sort()).toEqual(rows.map(([event, state]) => `${event} ${state}`).sort());
    expect(rows.length + ignored.length).toBe(8 * (ALERT_STATUSES.length + 1));
  });

  it('when a resolved notification comes, whatever the gateway remembers, then it never sends a card, opens a group or escalates', () => {
    for (const state of [undefined, ...ALERT_STATUSES]) {
      const effects = decide(state, 'resolved')?.effects ?? [];
      expect(effects.filter((e) => ['open', 'send', 'startEscalation', 'escalate'].includes(e))).toEqual([]);
    }
  });

  it('when a step is taken in Redis, then it is guarded by the states it moves from', () => {
    expect(statusesFor('resolved')).toEqual(['firing', 'acked', 'silencing', 'silenced']);
    expect(statusesFor('ack')).toEqual(['firing']);
    expect(statusesFor('silence')).toEqual(['firing', 'acked']);
    expect(statusesFor('silenceCreated')).toEqual(['silencing']);
    expect(statusesFor('silenceFailed')).toEqual(['silencing']);
    // An assignment changes no status: its step is guarded by the states where it applies.
    expect(statusesFor('assign')).toEqual([]);
    expect(statusesFor('assign', 'assign')).toEqual(['firing', 'acked', 'silencing', 'silenced']);
  });
});
