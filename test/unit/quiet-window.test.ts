import { passesQuietHours } from '../../src/alerts/quiet-hours';
import { quietHoursSchema, quietUntil } from '../../src/alerts/quiet-window';

const at = (iso: string) => Date.parse(iso);
const night = { from: '23:00', to: '08:00' };

describe('quiet hours: when a quiet time ends', () => {
  it('when it is 23:30 in Shanghai, then the night window ends at 08:00 the next morning', () => {
    expect(new Date(quietUntil(night, 'Asia/Shanghai', at('2026-12-01T15:30:00Z'))!).toISOString()).toBe('2026-12-02T00:00:00.000Z');
  });

  it('when it is 01:30 after midnight, then the same window ends at 08:00 that same morning', () => {
    expect(new Date(quietUntil(night, 'Asia/Shanghai', at('2026-12-01T17:30:00Z'))!).toISOString()).toBe('2026-12-02T00:00:00.000Z');
  });

  it('when it is 23:00 sharp, then it is quiet; at 08:00 sharp and at 22:59, it is not', () => {
    expect(quietUntil(night, 'Asia/Shanghai', at('2026-12-01T15:00:00Z'))).toBe(at('2026-12-02T00:00:00Z'));
    expect(quietUntil(night, 'Asia/Shanghai', at('2026-12-02T00:00:00Z'))).toBeUndefined();
    expect(quietUntil(night, 'Asia/Shanghai', at('2026-12-01T14:59:00Z'))).toBeUndefined();
  });

  it('when the window lies within one day (12:00-14:00), then it holds between and ends the same day', () => {
    const lunch = { from: '12:00', to: '14:00' };
    expect(quietUntil(lunch, 'UTC', at('2026-12-01T13:15:00Z'))).toBe(at('2026-12-01T14:00:00Z'));
    expect(quietUntil(lunch, 'UTC', at('2026-12-01T14:30:00Z'))).toBeUndefined();
    expect(quietUntil(lunch, 'UTC', at('2026-12-01T11:59:59Z'))).toBeUndefined();
  });

  it('when the clocks go forward during the night (Berlin, 29 March 2026), then 08:00 is read in summer time', () => {
    // 23:30 CET on the 28th; 08:00 CEST on the 29th is 06:00 UTC.
    expect(quietUntil(night, 'Europe/Berlin', at('2026-03-28T22:30:00Z'))).toBe(at('2026-03-29T06:00:00Z'));
  });

  it('when the zone is ahead of UTC by more than the window (Pacific/Kiritimati, +14), then the local date is the one used', () => {
    // 2026-12-01T10:00Z is 00:00 on 2 December there: quiet until 08:00 local, 18:00 UTC.
    expect(quietUntil(night, 'Pacific/Kiritimati', at('2026-12-01T10:00:00Z'))).toBe(at('2026-12-01T18:00:00Z'));
  });
});

describe('quiet hours: the route setting', () => {
  it('when except is left out, then critical passes', () => {
    expect(quietHoursSchema.parse(night).except).toEqual(['critical']);
  });

  it('when a time is no HH:MM, or from equals to, then the field is named', () => {
    const bad = quietHoursSchema.safeParse({ from: '25:00', to: '8:00' });
    expect(bad.success ? [] : bad.error.issues.map((i) => i.path.join('.'))).toEqual(['from', 'to']);
    const same = quietHoursSchema.safeParse({ from: '08:00', to: '08:00' });
    expect(same.success ? [] : same.error.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['to', 'must differ from quietHours.from (equal times make no quiet time)'],
    ]);
  });

  it("when a notification's common severity is excepted, or (with none in common) any alert's is, then it passes", () => {
    const alerts = (...severities: string[]) => severities.map((severity) => ({ severity }));
    expect(passesQuietHours({ commonLabels: { severity: 'critical' }, alerts: alerts('critical') } as never, ['critical'])).toBe(true);
    expect(passesQuietHours({ commonLabels: { severity: 'warning' }, alerts: alerts('warning') } as never, ['critical'])).toBe(false);
    expect(passesQuietHours({ commonLabels: {}, alerts: alerts('warning', 'critical') } as never, ['critical'])).toBe(true);
    expect(passesQuietHours({ commonLabels: {}, alerts: alerts('warning', 'info') } as never, ['critical'])).toBe(false);
  });
});
