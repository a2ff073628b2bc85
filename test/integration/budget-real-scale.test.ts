import { alert, eventually, finalStatus, startHarness, type Harness } from '../support/harness';

describe("WeCom's real per-member limit (30 a minute)", () => {
  let h: Harness;
  beforeAll(async () => {
    // The gateway's default quota and the simulator's default (WeCom's) silent drop.
    h = await startHarness({ env: { MEMBER_QUOTA: '30/60,1000/3600' }, simulator: { memberLimits: undefined } });
  });
  afterAll(() => h.close());

  it('when 45 messages go to one person within a minute, then all 45 arrive, never more than 30 in any 60 s, the rest after passing through deferred', async () => {
    // The budget's pacing is measured here, one message a call: merging waiting messages is coalesce.test.ts's.
    const ids = await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        h.api
          .post('/v1/messages')
          .send(alert({ to: { users: ['busy01'] }, coalesce: false, data: { title: `n${i}`, content: 'c', level: 'info' } }))
          .then((r) => r.body.id as string),
      ),
    );
    const statuses = () => Promise.all(ids.map(async (id) => (await h.api.get(`/v1/messages/${id}`)).body.status as string));
    const waiting = await eventually(
      async () => {
        const now = await statuses();
        return now.filter((s) => s === 'sent').length + now.filter((s) => s === 'deferred').length === 45 ? now : undefined;
      },
      20_000,
      100,
    );
    expect(waiting.filter((s) => s === 'sent')).toHaveLength(30);
    expect(waiting.filter((s) => s === 'deferred')).toHaveLength(15);
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 90_000)));
    expect(views.every((v) => v.status === 'sent')).toBe(true);
    const times = h.sim.deliveriesTo('busy01').sort((a, b) => a - b);
    expect(times).toHaveLength(45);
    expect(h.sim.dropped).toBe(0);
    const busiest = Math.max(...times.map((t, i) => times.slice(i).filter((u) => u < t + 60_000).length));
    expect(busiest).toBeLessThanOrEqual(30);
  }, 120_000);
});
