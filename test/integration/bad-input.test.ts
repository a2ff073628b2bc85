import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { createGateway } from '../../src/gateway';
import { WecomSimulator } from '../../src/simulator/simulator';
import { alert, restartablePort, startHarness, testConfig, startTestRedis, type Harness, UNLIMITED_SIM } from '../support/harness';

describe('POST /v1/messages with bad input', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { BODY_LIMIT: '16kb' } });
  });
  afterAll(() => h.close());

  it('when fields are invalid, then 400 lists each failing field', async () => {
    const res = await h.api.post('/v1/messages').send({ event: '', msgtype: 'fax', to: { users: ['bad id!'] }, data: 'x', extra: 1 });
    expect(res.status).toBe(400);
    const fields = res.body.error.fields.map((f: { field: string }) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['event', 'msgtype', 'to.users.0', 'data', 'extra']));
  });

  it('when recipients are empty, then 400 names "to"', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ to: {} }));
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].field).toBe('to');
  });

  // The most common mistakes, as a user's trial found them (issue 32): each names the field and says the fix.
  it('when "to" is missing, then 400 names it and shows what to write', async () => {
    const { to: _to, ...body } = alert();
    const res = await h.api.post('/v1/messages').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([
      { field: 'to', message: expect.stringMatching(/^required — \{"users":\["zhangsan"\]\}.*"@all"/) },
    ]);
    expect(res.body.error.message).toMatch(/^invalid to: required — /);
  });

  it('when "to" is a string (a userid), then 400 names "to" and shows the object it needs', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ to: 'zhangsan' }));
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ field: 'to', message: expect.stringContaining('{"users":["zhangsan"]}') }]);
    expect(res.body.error.fields[0].message).not.toMatch(/Invalid input/);
  });

  it('when "to" is a list, then 400 names "to" and shows the object it needs', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ to: ['zhangsan'] }));
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ field: 'to', message: expect.stringContaining('{"users":["zhangsan"]}') }]);
  });

  it.each([
    ['users', 'zhangsan', 'expected an array of userids, e.g. ["zhangsan"]'],
    ['parties', 2, 'expected an array of department ids, e.g. [2, 3]'],
    ['tags', 1, 'expected an array of tag ids, e.g. [1]'],
    ['robots', 'ops', 'expected an array of robot names, e.g. ["ops"]'],
    ['chats', 'oncall', 'expected an array of chatids, e.g. ["oncall"]'],
  ])('when to.%s is %j (not an array), then 400 names that list and shows the array', async (list, value, message) => {
    const res = await h.api.post('/v1/messages').send(alert({ to: { [list]: value } }));
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ field: `to.${list}`, message }]);
  });

  it('when "event" is missing, then 400 names it and points to GET /v1/events', async () => {
    const { event: _event, ...body } = alert();
    const res = await h.api.post('/v1/messages').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ field: 'event', message: expect.stringMatching(/^required — .*GET \/v1\/events/) }]);
  });

  it('when the body is form-encoded (curl -d without a JSON content type), then 415 says to send JSON, and nothing is queued', async () => {
    const res = await h.api.post('/v1/messages').type('form').send('event=program.alert&to=zhangsan');
    expect(res.status).toBe(415);
    expect(res.body.error).toMatchObject({
      code: 'unsupported_media_type',
      message: expect.stringContaining('send JSON with Content-Type: application/json'),
      fields: [{ field: 'Content-Type', message: expect.any(String) }],
    });
    const plain = await h.api.post('/v1/messages').set('content-type', 'text/plain').send(JSON.stringify(alert()));
    expect(plain.status).toBe(415);
    const counts = await h.gateway.queues.get('send')!.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('when the body is empty, then 400 says a JSON object is needed', async () => {
    const res = await h.api.post('/v1/messages');
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ field: '(body)', message: expect.stringContaining('a JSON object') }]);
  });

  it('when the body is not JSON, then 400', async () => {
    const res = await h.api.post('/v1/messages').set('content-type', 'application/json').send('{"event":');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/JSON/);
  });

  it('when the body is over the limit, then 413', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ data: { title: 't', level: 'info', content: 'x'.repeat(20_000) } }));
    expect(res.status).toBe(413);
  });

  it('when the event is unknown, then 404', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ event: 'no.such.event' }));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('unknown_event');
  });

  it('when the event does not support the msgtype, then 400 names msgtype', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ msgtype: 'news' }));
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].field).toBe('msgtype');
  });

  it('when data the template needs is missing, then 422 names it', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ data: { title: 't', level: 'info' } }));
    expect(res.status).toBe(422);
    expect(res.body.error.fields[0].field).toBe('data.content');
  });

  it('when a textcard url is not http(s), then 422 names it', async () => {
    const res = await h.api
      .post('/v1/messages')
      .send(alert({ msgtype: 'textcard', data: { title: 't', content: 'c', level: 'info', url: 'javascript:alert(1)' } }));
    expect(res.status).toBe(422);
    expect(res.body.error.fields[0].field).toBe('textcard.url');
  });

  it('when bad input arrives, then nothing is queued', async () => {
    // Its own bad requests, one of each kind: the test does not rely on the ones above having run.
    const bad = [
      { event: '', msgtype: 'fax', to: { users: ['bad id!'] } },
      alert({ to: {} }),
      alert({ event: 'no.such.event' }),
      alert({ msgtype: 'news' }),
      alert({ data: { title: 't', level: 'info' } }),
      alert({ msgtype: 'textcard', data: { title: 't', content: 'c', level: 'info', url: 'javascript:alert(1)' } }),
    ];
    for (const body of bad) expect((await h.api.post('/v1/messages').send(body)).status).toBeGreaterThanOrEqual(400);
    expect((await h.api.post('/v1/messages').set('content-type', 'application/json').send('{"event":')).status).toBe(400);
    const counts = await h.gateway.queues.get('send')!.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  });
});

describe('API keys', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: {
        GATEWAY_API_KEYS: 'key-one-1-0123456789,key-two-2-0123456789,reader-key-1-0123456:read,sender-key-1-0123456:send',
        API_RATE_LIMIT_PER_MINUTE: '30',
      },
    });
  });
  afterAll(() => h.close());

  it('when no key is given, then 401', async () => {
    expect((await h.api.post('/v1/messages').send(alert())).status).toBe(401);
  });

  it('when a wrong key is given, then 401 and the body names no key', async () => {
    const res = await h.api.post('/v1/messages').set('Authorization', 'Bearer key-three-3').send(alert());
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toMatch(/key-one-1-0123456789|key-two-2-0123456789/);
  });

  it('when a configured key is given, then 202', async () => {
    expect((await h.api.post('/v1/messages').set('Authorization', 'Bearer key-two-2-0123456789').send(alert())).status).toBe(202);
  });

  it('when health is asked without a key, then it answers with security headers', async () => {
    const res = await h.api.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers.etag).toBeUndefined();
  });

  it("when a page is asked, then it gets helmet's full set of headers (a CSP that lets its own scripts run)", async () => {
    const res = await h.api.get('/dashboard/').set('Authorization', 'Bearer key-one-1-0123456789');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
  });

  it('when a key lacks the permission a route needs, then 403', async () => {
    const sent = await h.api.post('/v1/messages').set('Authorization', 'Bearer sender-key-1-0123456').send(alert());
    expect(sent.status).toBe(202);
    expect((await h.api.get(`/v1/messages/${sent.body.id}`).set('Authorization', 'Bearer sender-key-1-0123456')).status).toBe(403);
    expect((await h.api.get('/v1/events').set('Authorization', 'Bearer reader-key-1-0123456')).status).toBe(200);
    expect((await h.api.post('/v1/messages').set('Authorization', 'Bearer reader-key-1-0123456').send(alert())).status).toBe(403);
  });

  it('when a browser sends the key as a Basic password, then it is accepted', async () => {
    expect((await h.api.get('/v1/events').auth('anyone', 'reader-key-1-0123456')).status).toBe(200);
  });

  it('when a key goes over its requests per minute, then 429 with Retry-After, and other keys are unaffected', async () => {
    let last = await h.api.get('/v1/events').set('Authorization', 'Bearer key-one-1-0123456789');
    for (let i = 0; i < 40 && last.status !== 429; i++)
      last = await h.api.get('/v1/events').set('Authorization', 'Bearer key-one-1-0123456789');
    expect(last.status).toBe(429);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    expect((await h.api.get('/v1/events').set('Authorization', 'Bearer key-two-2-0123456789')).status).toBe(200);
  });
});

describe('when Redis is unreachable', () => {
  it('then POST /v1/messages answers 503 quickly, and recovers when Redis is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-503-'));
    const redis = await startTestRedis({ dir, port: await restartablePort() });
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    // The sandbox's demo activity, so that the employee pool has someone to read from Redis.
    const gateway = await createGateway(
      { ...testConfig(sim.url, { REDIS_URL: redis.url }), sandbox: true },
      { logger: pino({ level: 'silent' }) },
    );
    const api = request(gateway.app);
    let again: Awaited<ReturnType<typeof startTestRedis>> | undefined;
    try {
      const accepted = await api.post('/v1/messages').send(alert());
      expect(accepted.status).toBe(202);
      await redis.stop();
      const started = Date.now();
      const res = await api.post('/v1/messages').send(alert());
      expect(res.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect((await api.get('/readyz')).status).toBe(503);
      // Every route that needs Redis says the same, never a 500.
      const others = await Promise.all([
        api.delete(`/v1/messages/${accepted.body.id}`),
        api.get('/v1/welcome/pool'),
        api.get('/v1/contacts/departments'),
        api.get('/v1/contacts/changes?since=0'),
      ]);
      expect(others.map((r) => r.status)).toEqual([503, 503, 503, 503]);
      again = await startTestRedis({ port: redis.port, dir });
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (status !== 202 && Date.now() < deadline) {
        status = (await api.post('/v1/messages').send(alert())).status;
        if (status !== 202) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(202);
    } finally {
      // Redis must be back for the gateway to close; a failed assertion above must not leave it open.
      again ??= await startTestRedis({ port: redis.port, dir });
      await gateway.close();
      await again.stop();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
