import { rotationShiftAt } from '../../src/oncall/rotation';
import { rotationOf, type OnCallSchedule } from '../../src/oncall/schedule-config';
import { nextShift, overlapOf, shiftAt, shiftsFrom, type Override } from '../../src/oncall/shifts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (text: string) => Date.parse(text);

function rotation(every: string, options: { timezone?: string; start?: string; handoff?: string; users?: string[] } = {}) {
  const schedule: OnCallSchedule = {
    name: 'sre',
    timezone: options.timezone ?? 'Asia/Shanghai',
    rotation: {
      users: options.users ?? ['ops1', 'ops2', 'ops3'],
      every,
      handoff: options.handoff ?? '09:00',
      start: options.start ?? '2026-12-01',
    },
  };
  return rotationOf(schedule);
}

/** A shift as the routes print it. */
const shown = (s: { user: string; since: number; until: number; override?: string } | undefined) =>
  s && { user: s.user, since: iso(s.since), until: iso(s.until), ...(s.override ? { override: s.override } : {}) };

describe('on-call rotation (Asia/Shanghai, UTC+8 without daylight saving)', () => {
  it('when a daily rotation starts on 1 December at 09:00, then ops1 has the first day and ops2 takes over at 09:00 the next', () => {
    const daily = rotation('1d');
    expect(shown(rotationShiftAt(daily, at('2026-12-01T01:00:00Z')))).toEqual({
      user: 'ops1',
      since: '2026-12-01T01:00:00.000Z',
      until: '2026-12-02T01:00:00.000Z',
    });
    // One millisecond before 09:00 local on the 2nd it is still ops1; at 09:00, ops2.
    expect(rotationShiftAt(daily, at('2026-12-02T00:59:59.999Z'))?.user).toBe('ops1');
    expect(rotationShiftAt(daily, at('2026-12-02T01:00:00Z'))?.user).toBe('ops2');
    expect(rotationShiftAt(daily, at('2026-12-04T01:00:00Z'))?.user).toBe('ops1');
  });

  it('when the time is before the first shift, then nobody is on call', () => {
    expect(rotationShiftAt(rotation('1d'), at('2026-12-01T00:59:59Z'))).toBeUndefined();
  });

  it('when shifts are 1w and 2w, then each lasts 7 and 14 days and the users take turns', () => {
    const weekly = rotation('1w');
    const second = rotationShiftAt(weekly, at('2026-12-10T00:00:00Z'));
    expect(shown(second)).toEqual({ user: 'ops2', since: '2026-12-08T01:00:00.000Z', until: '2026-12-15T01:00:00.000Z' });
    const fortnightly = rotation('2w', { users: ['a', 'b'] });
    expect(shown(rotationShiftAt(fortnightly, at('2027-01-20T00:00:00Z')))).toEqual({
      user: 'b',
      since: '2027-01-12T01:00:00.000Z',
      until: '2027-01-26T01:00:00.000Z',
    });
    expect(rotationShiftAt(fortnightly, at('2027-01-26T01:00:00Z'))?.user).toBe('a');
  });

  it('when a thousand days have passed, then the turn is still counted from the start', () => {
    // 1000 days after 2026-12-01 is 2029-08-27: 1000 mod 3 = 1, so ops2.
    expect(shown(rotationShiftAt(rotation('1d'), at('2029-08-27T05:00:00Z')))).toEqual({
      user: 'ops2',
      since: '2029-08-27T01:00:00.000Z',
      until: '2029-08-28T01:00:00.000Z',
    });
  });
});

describe('on-call rotation in a zone with daylight saving (Europe/Berlin)', () => {
  const berlin = rotation('1d', { timezone: 'Europe/Berlin', start: '2027-03-26' });

  it('when the clocks go forward on 28 March 2027, then the handoff stays at 09:00 local and that shift is 23 hours', () => {
    // 27 March 09:00 CET = 08:00Z; 28 March 09:00 CEST = 07:00Z.
    const beforeChange = rotationShiftAt(berlin, at('2027-03-27T12:00:00Z'));
    expect(shown(beforeChange)).toEqual({ user: 'ops2', since: '2027-03-27T08:00:00.000Z', until: '2027-03-28T07:00:00.000Z' });
    expect(beforeChange!.until - beforeChange!.since).toBe(23 * 3_600_000);
    expect(shown(rotationShiftAt(berlin, at('2027-03-28T07:00:00Z')))?.user).toBe('ops3');
  });

  it('when the clocks go back in October, then that shift is 25 hours', () => {
    const autumn = rotation('1d', { timezone: 'Europe/Berlin', start: '2027-10-01' });
    const shift = rotationShiftAt(autumn, at('2027-10-30T12:00:00Z'))!;
    expect(iso(shift.since)).toBe('2027-10-30T07:00:00.000Z');
    expect(iso(shift.until)).toBe('2027-10-31T08:00:00.000Z');
  });

  it('when the handoff falls in the skipped hour (02:30 on the change), then that shift begins at 03:30 local', () => {
    const night = rotation('1d', { timezone: 'Europe/Berlin', start: '2027-03-27', handoff: '02:30' });
    expect(iso(rotationShiftAt(night, at('2027-03-28T12:00:00Z'))!.since)).toBe('2027-03-28T01:30:00.000Z');
  });
});

describe('overrides splitting shifts', () => {
  const daily = rotation('1d');
  const sick: Override = { id: 'ovr_1', user: 'lihua', from: at('2026-12-02T06:00:00Z'), until: at('2026-12-02T10:00:00Z') };

  it('when an override covers the time, then its user is on call for the whole override', () => {
    expect(shown(shiftAt(daily, [sick], at('2026-12-02T07:00:00Z')))).toEqual({
      user: 'lihua',
      since: '2026-12-02T06:00:00.000Z',
      until: '2026-12-02T10:00:00.000Z',
      override: 'ovr_1',
    });
  });

  it('when an override sits inside a shift, then the shift is cut in two around it and the next shifts follow', () => {
    const { now, next } = shiftsFrom(daily, [sick], at('2026-12-02T02:00:00Z'), 4);
    expect(shown(now)).toEqual({ user: 'ops2', since: '2026-12-02T01:00:00.000Z', until: '2026-12-02T06:00:00.000Z' });
    expect(next.map(shown)).toEqual([
      { user: 'lihua', since: '2026-12-02T06:00:00.000Z', until: '2026-12-02T10:00:00.000Z', override: 'ovr_1' },
      { user: 'ops2', since: '2026-12-02T10:00:00.000Z', until: '2026-12-03T01:00:00.000Z' },
      { user: 'ops3', since: '2026-12-03T01:00:00.000Z', until: '2026-12-04T01:00:00.000Z' },
      { user: 'ops1', since: '2026-12-04T01:00:00.000Z', until: '2026-12-05T01:00:00.000Z' },
    ]);
  });

  it('when nobody is on call before the start, then an override still puts someone there and the next handoff is the first shift', () => {
    const early: Override = { id: 'ovr_2', user: 'lihua', from: at('2026-11-30T00:00:00Z'), until: at('2026-11-30T12:00:00Z') };
    expect(shiftAt(daily, [early], at('2026-11-30T13:00:00Z'))).toBeUndefined();
    expect(shown(nextShift(daily, [early], at('2026-11-29T00:00:00Z')))?.user).toBe('lihua');
    expect(shown(nextShift(daily, [early], at('2026-11-30T13:00:00Z')))).toEqual({
      user: 'ops1',
      since: '2026-12-01T01:00:00.000Z',
      until: '2026-12-02T01:00:00.000Z',
    });
  });

  it('when a new override would overlap one by a minute, then the overlap names it; touching end to start is no overlap', () => {
    expect(overlapOf([sick], at('2026-12-02T09:59:00Z'), at('2026-12-02T12:00:00Z'))?.id).toBe('ovr_1');
    expect(overlapOf([sick], at('2026-12-02T10:00:00Z'), at('2026-12-02T12:00:00Z'))).toBeUndefined();
  });
});
