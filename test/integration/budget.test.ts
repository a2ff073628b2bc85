import { redisKeys } from '../../src/redis/keys';
import { Redis } from 'ioredis';
import { MemberBudget } from '../../src/budgets/member';
import { alert, eventually, finalStatus, SIM_APP, startHarness, uniquePrefix, type Harness } from '../support/harness';

/** The busiest sliding window: how many of `times` fall within any `windowMs`. */
function busiest(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return Math.max(0, ...sorted.map((t, i) => sorted.slice(i).filter((u) => u < t + windowMs).length));
}

describe("per-member budgets (WeCom's silent 30/min, 1000/h)", () => {
  let h: Harness;
  // Scaled down so the test takes seconds: 5 per 2 s at the gateway and at the simulator alike.
  beforeAll(async () => {
    h = await startHarness({ env: { MEMBER_QUOTA: '5/2' }, simulator: { memberLimits: [{ count: 5, windowMs: 2_000 }] } });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('when 12 messages go to one person at once, then all arrive, never more than 5 in a window, and the waiting ones show deferred', async () => {
    // Each its own message (coalescing would merge the waiting ones: coalesce.test.ts).
    const ids = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        h.api
          .post('/v1/messages')
          .send(alert({ to: { users: ['budget01'] }, data: { title: `b${i}`, content: 'c', level: 'info' }, coalesce: false }))
          .then((r) => r.body.id as string),
      ),
    );
    const sawDeferred = await eventually(
      async () => {
        for (const id of ids) {
          const view = (await h.api.get(`/v1/messages/${id}`)).body;
          if (view.status === 'deferred') return view;
        }
        return undefined;
      },
      5_000,
      10,
    );
    expect(sawDeferred.deferred).toEqual({ until: expect.any(String), reason: expect.stringContaining('quota') });
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 20_000)));
    expect(views.every((v) => v.status === 'sent')).toBe(true);
    expect(h.sim.deliveriesTo('budget01')).toHaveLength(12);
    expect(h.sim.dropped).toBe(0);
    expect(busiest(h.sim.deliveriesTo('budget01'), 2_000)).toBeLessThanOrEqual(5);
  }, 30_000);

  it('when a message goes to several people and one is over budget, then the others get it at once and that one later, under the same id', async () => {
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        h.api.post('/v1/messages').send(alert({ to: { users: ['hot01'] }, data: { title: `warm ${i}`, content: 'c', level: 'info' } })),
      ),
    );
    await eventually(() => h.sim.deliveriesTo('hot01').length === 5 || undefined);
    const started = Date.now();
    const res = await h.api
      .post('/v1/messages')
      .send(alert({ to: { users: ['hot01', 'cool01', 'cool02'] }, data: { title: 'mixed', content: 'c', level: 'info' } }));
    await eventually(() => h.sim.deliveriesTo('cool02').length === 1 || undefined);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(h.sim.deliveriesTo('hot01')).toHaveLength(5);
    const view = await finalStatus(h.api, res.body.id, 10_000);
    expect(view).toMatchObject({ status: 'sent', parts: 2 });
    expect(view.msgids).toHaveLength(2);
    expect(h.sim.deliveriesTo('hot01')).toHaveLength(6);
    expect(h.sim.dropped).toBe(0);
  }, 20_000);
});

describe('a retried send and the member budget', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL!);
  });
  afterAll(() => redis.quit());

  it('when a send is retried long after it was first counted, then it counts at its new time, so the window stays under the limit at WeCom', async () => {
    const app = { name: 'default', ...SIM_APP };
    // 2 per second at WeCom; the gateway keeps its window 250 ms wider.
    const budget = new MemberBudget(redis, redisKeys(uniquePrefix()), [{ count: 2, windowMs: 1_000 }]);
    expect((await budget.split(app, ['u1'], 's1', 0)).deferred).toBeUndefined();
    expect((await budget.split(app, ['u1'], 's2', 1_000)).deferred).toBeUndefined();
    // s1 was held back (a 45009 pause) and goes out only now, at 1200: WeCom sees s2 and s1 within a second.
    expect((await budget.split(app, ['u1'], 's1', 1_200)).deferred).toBeUndefined();
    // A third send at 1260 would be the third within WeCom's second: it waits until s2 leaves the window.
    expect((await budget.split(app, ['u1'], 's3', 1_260)).deferred).toEqual({ users: ['u1'], until: 2_250 });
  });
});
