import { Writable } from 'node:stream';
import request from 'supertest';
import { createGateway } from '../../src/gateway';
import { createLogger } from '../../src/ops/logger';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { WecomSimulator } from '../../src/simulator/simulator';
import { alert, finalStatus, SIM_APP, testConfig, UNLIMITED_SIM } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

const SECRETS = {
  WECOM_CALLBACK_TOKEN: 'logTokenSecret42',
  WECOM_CALLBACK_AES_KEY: 'LogAesKey0123456789abcdefghijklmnopqrstuvwx',
  GATEWAY_API_KEYS: 'log-api-key-secret-1',
};

describe('logs', () => {
  it('when a message, a failure and a callback go through, then every line is JSON with a request id and no secret, token or personal data appears', async () => {
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk, _e, done) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
    const gateway = await createGateway(testConfig(sim.url, { ...SECRETS, LOG_LEVEL: 'debug' }), { logger: createLogger('debug', stream) });
    const api = request(gateway.app);
    const auth = { Authorization: `Bearer ${SECRETS.GATEWAY_API_KEYS}` };
    try {
      const res = await api.post('/v1/messages').set(auth).set('X-Request-Id', 'trace-me-123').send(alert());
      await finalStatus(api, res.body.id, 10_000, SECRETS.GATEWAY_API_KEYS);
      sim.failNext(1, { errcode: 40014 }); // forces a token refresh
      const second = await api
        .post('/v1/messages')
        .set(auth)
        .send(alert({ data: { title: 't', content: 'c', level: 'info' } }));
      await finalStatus(api, second.body.id, 10_000, SECRETS.GATEWAY_API_KEYS);
      await api.get('/v1/messages/00000000-0000-0000-0000-000000000000').set('Authorization', 'Bearer wrong-key-but-long');
      const crypto = new CallbackCrypto({
        token: SECRETS.WECOM_CALLBACK_TOKEN,
        encodingAesKey: SECRETS.WECOM_CALLBACK_AES_KEY,
        receiveId: SIM_APP.corpId,
      });
      const push = encryptedPush(
        crypto,
        SIM_APP.corpId,
        eventXml({
          ToUserName: SIM_APP.corpId,
          FromUserName: 'sys',
          CreateTime: '1700000001',
          MsgType: 'event',
          Event: 'change_contact',
          ChangeType: 'create_user',
          UserID: 'pii01',
          Name: 'Secret Name',
          Mobile: '13912345678',
          Email: 'pii01@example.com',
        }),
      );
      await api.post(`/wecom/callback?${push.query}`).send(push.body);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await gateway.close();
      await sim.stop();
    }
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.length).toBeGreaterThan(5);
    // The caller's request id follows the message from the API to the worker.
    expect(parsed.some((l) => (l.req as { id?: string } | undefined)?.id === 'trace-me-123')).toBe(true);
    expect(parsed.some((l) => l.requestId === 'trace-me-123' && l.msg === 'message sent')).toBe(true);
    const all = lines.join('\n');
    for (const secret of [
      ...Object.values(SECRETS),
      SIM_APP.secret,
      '13912345678',
      'pii01@example.com',
      'Secret Name',
      'wrong-key-but-long',
    ])
      expect(all).not.toContain(secret);
    expect(all).not.toMatch(/access_token=(?!\*\*\*)[A-Za-z0-9_-]{8,}/);
  });

  it('when the dashboard refreshes and loads its assets, then those requests log at debug and API calls at info', async () => {
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk, _e, done) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
    const gateway = await createGateway(testConfig(sim.url, { LOG_LEVEL: 'debug' }), { logger: createLogger('debug', stream) });
    const api = request(gateway.app);
    try {
      expect((await api.get('/dashboard/')).status).toBe(200);
      expect((await api.get('/dashboard/queues')).status).toBe(200);
      expect((await api.get('/docs/')).status).toBe(200);
      expect((await api.get('/v1/events')).status).toBe(200);
    } finally {
      await gateway.close();
      await sim.stop();
    }
    const completed = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string; req?: { url: string } })
      .filter((l) => l.msg === 'request completed');
    const levelOf = (url: string) => completed.find((l) => l.req?.url === url)?.level;
    expect([levelOf('/dashboard/'), levelOf('/dashboard/queues'), levelOf('/docs/')]).toEqual([20, 20, 20]);
    expect(levelOf('/v1/events')).toBe(30);
  });
});

describe('access log settings', () => {
  async function linesFor(env: Record<string, string>, calls: (api: ReturnType<typeof request>) => Promise<unknown>) {
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk, _e, done) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
    const gateway = await createGateway(testConfig(sim.url, { LOG_LEVEL: 'info', ...env }), { logger: createLogger('info', stream) });
    const api = request(gateway.app);
    try {
      await calls(api);
      const metrics = (await api.get('/metrics')).text;
      const completed = lines
        .map((l) => JSON.parse(l) as { level: number; msg: string; req?: { url: string } })
        .filter((l) => l.msg === 'request completed');
      return {
        completed,
        counted: Number(/http_requests_total\{method="GET",route="\/v1\/events",status="200"\} (\d+)/.exec(metrics)?.[1] ?? 0),
      };
    } finally {
      await gateway.close();
      await sim.stop();
    }
  }
  const tenEventsAndOneMiss = async (api: ReturnType<typeof request>) => {
    for (let i = 0; i < 10; i++) expect((await api.get('/v1/events')).status).toBe(200);
    expect((await api.get('/v1/messages/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  };

  it('when ACCESS_LOG=off, then successful requests get no line but are still counted, and a 404 still logs at warn', async () => {
    const { completed, counted } = await linesFor({ ACCESS_LOG: 'off' }, tenEventsAndOneMiss);
    expect(completed.filter((l) => l.req?.url === '/v1/events')).toHaveLength(0);
    expect(completed.filter((l) => l.req?.url?.startsWith('/v1/messages/')).map((l) => l.level)).toEqual([40]);
    expect(counted).toBe(10);
  });

  it('when ACCESS_LOG_SAMPLE=0.5, then about half of the successful requests get a line, each at info', async () => {
    const { completed, counted } = await linesFor({ ACCESS_LOG_SAMPLE: '0.5' }, async (api) => {
      for (let i = 0; i < 200; i++) await api.get('/v1/events');
    });
    const logged = completed.filter((l) => l.req?.url === '/v1/events');
    // Binomial(200, 0.5): outside 60..140 once in ~10^8 runs.
    expect(logged.length).toBeGreaterThan(60);
    expect(logged.length).toBeLessThan(140);
    expect(new Set(logged.map((l) => l.level))).toEqual(new Set([30]));
    expect(counted).toBe(200);
  });

  it('when ACCESS_LOG=debug, then successful API requests log at debug (hidden at LOG_LEVEL=info)', async () => {
    const { completed } = await linesFor({ ACCESS_LOG: 'debug' }, tenEventsAndOneMiss);
    expect(completed.filter((l) => l.req?.url === '/v1/events')).toHaveLength(0);
    expect(completed.some((l) => l.level === 40)).toBe(true);
  });
});
