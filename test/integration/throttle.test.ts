import { alert, finalStatus, startHarness, type Harness } from '../support/harness';

describe('WeCom frequency limit (45009)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { THROTTLE_45009_MS: '500', SEND_ATTEMPTS: '2' } });
  });
  afterAll(() => h.close());

  it('when WeCom answers 45009 three times, then the app pauses instead of burning retries, and the messages go out afterwards', async () => {
    h.sim.failNext(3, { errcode: 45009, errmsg: 'api freq out of limit' });
    const started = Date.now();
    const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => h.api.post('/v1/messages').send(alert({ data: { title: `throttled ${i}`, content: 'c', level: 'info' } })).then((r) => r.body.id as string)));
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 20_000)));
    // Two attempts would not survive three 45009s if each counted.
    expect(views.map((v) => v.status)).toEqual(Array(5).fill('sent'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    const metrics = await h.gateway.metrics.registry.getSingleMetricAsString('wecom_gateway_send_throttled_total');
    expect(metrics).toMatch(/wecom_gateway_send_throttled_total [1-9]/);
  });
});

describe('outbound rate limit', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { SEND_RATE_PER_SECOND: '20' } });
  });
  afterAll(() => h.close());

  it('when 60 messages are queued at once, then they are paced at 20 per one-second window', async () => {
    const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => h.api.post('/v1/messages').send(alert({ data: { title: `paced ${i}`, content: 'c', level: 'info' } })).then((r) => r.body.id as string)));
    await Promise.all(ids.map((id) => finalStatus(h.api, id, 20_000)));
    const times = h.sim.calls.filter((c) => c.api === 'message/send' && c.errcode === 0).map((c) => c.at).sort((a, b) => a - b);
    expect(times).toHaveLength(60);
    // BullMQ's limiter counts fixed one-second windows: 60 sends need three of them, and a
    // sliding second can straddle two (up to 2 x 20), never more.
    expect(times[59] - times[0]).toBeGreaterThanOrEqual(1_000);
    const busiestSlidingSecond = Math.max(...times.map((t, i) => times.slice(i).filter((u) => u < t + 1_000).length));
    expect(busiestSlidingSecond).toBeLessThanOrEqual(40);
  });
});
