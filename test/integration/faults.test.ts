import fc from 'fast-check';
import { eventually, finalStatus, startHarness, type Harness } from '../support/harness';
import { alert } from '../support/harness';

describe('simulator chaos', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { WECOM_TIMEOUT_MS: '500', THROTTLE_45009_MS: '200' } });
  });
  afterAll(() => h.close());

  it('when 20% of WeCom calls fail (-1, 45009, HTTP 500, resets, timeouts, expired tokens), then every message ends sent or failed with a reason and tokens are never fetched in a stampede', async () => {
    h.sim.setChaos({
      rate: 0.2,
      faults: [{ errcode: -1 }, { errcode: 45009 }, { httpStatus: 500 }, { reset: true }, { delayMs: 1_000 }, 'expireTokens'],
    });
    const ids: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const posted = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          h.api.post('/v1/messages').send(alert({ data: { title: `chaos ${batch}-${i}`, content: 'c', level: 'info' } })),
        ),
      );
      ids.push(...posted.map((r) => r.body.id as string));
    }
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 30_000)));
    h.sim.setChaos(undefined);
    const sent = views.filter((v) => v.status === 'sent').length;
    const failed = views.filter((v) => v.status === 'failed');
    expect(sent + failed.length).toBe(300);
    for (const v of failed) expect(v.error).toEqual(expect.objectContaining({ errcode: expect.any(Number), errmsg: expect.any(String) }));
    // However many sends meet an expired token at once, an expiry costs one gettoken, two when
    // that gettoken itself timed out under the chaos (WeCom still issued it) and was asked again:
    // a stampede would be one per send that met the expired token.
    const expiries = h.sim.calls.filter((c) => c.errcode === 42001).length;
    expect(h.sim.gettokenCount()).toBeLessThanOrEqual(2 * (h.sim.tokenExpiries + 1));
    expect(h.sim.gettokenCount()).toBeLessThan(expiries);
    const delivered = new Set(h.sim.sent.map((m) => (m.body.text as { content: string }).content));
    expect(delivered.size).toBe(h.sim.sent.length); // the duplicate check absorbed retries of delivered sends
    process.stdout.write(
      `chaos: 300 messages, ${sent} sent, ${failed.length} failed, ${h.sim.calls.length} WeCom calls, ${h.sim.gettokenCount()} ` +
        `gettoken for ${h.sim.tokenExpiries} token expiries (${expiries} sends met an expired token)\n`,
    );
  }, 90_000);
});

describe('fuzzing the public inputs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: {
        WECOM_CALLBACK_TOKEN: 'fuzzToken',
        WECOM_CALLBACK_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
        API_RATE_LIMIT_PER_MINUTE: '0',
      },
    });
  });
  afterAll(() => h.close());

  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const messageLike = fc.record(
    {
      event: fc.oneof(fc.constant('program.alert'), fc.string()),
      msgtype: fc.oneof(fc.constantFrom('text', 'textcard', 'markdown', 'news', 'file'), fc.string()),
      to: fc.oneof(fc.constant('@all'), anyJson, fc.record({ users: fc.array(fc.string()) })),
      data: fc.oneof(
        anyJson,
        fc.dictionary(fc.constantFrom('title', 'content', 'level', 'url'), fc.oneof(fc.string(), fc.integer(), anyJson)),
      ),
    },
    { requiredKeys: [] },
  );

  it('when /v1/messages gets arbitrary JSON, then it never answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(messageLike, anyJson), async (body) => {
        const res = await h.api
          .post('/v1/messages')
          .send(JSON.stringify(body) ?? 'null')
          .set('content-type', 'application/json');
        return res.status < 500;
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('when the Alertmanager webhook gets arbitrary JSON, then it never answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(anyJson, fc.constantFrom('?users=a', '?route=x', '', '?users=bad%20id'), async (body, query) => {
        const res = await h.api
          .post(`/v1/integrations/alertmanager${query}`)
          .send(JSON.stringify(body) ?? 'null')
          .set('content-type', 'application/json');
        return res.status < 500;
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it('when /wecom/callback gets arbitrary bodies and queries, then it answers 4xx and nothing is queued', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 2000 }), fc.string({ maxLength: 200 }), async (body, query) => {
        const res = await h.api
          .post(`/wecom/callback?${encodeURI(query)}`)
          .set('content-type', 'text/xml')
          .send(body);
        return res.status >= 400 && res.status < 500;
      }),
      { numRuns: 300 },
    );
    expect(await h.gateway.queues.get('inbound')!.count()).toBe(0);
    expect(await eventually(async () => (await h.api.get('/healthz')).status === 200 || undefined)).toBe(true);
  }, 60_000);
});
