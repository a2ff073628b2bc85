import { createHmac } from 'node:crypto';
import request from 'supertest';
import { createGateway } from '../../src/gateway';
import { eventually, finalStatus, SIM_APP, startHarness, UNLIMITED_SIM, type Harness } from '../support/harness';
import { capturedLogs } from '../support/captured-logs';
import type { ApiKey } from '../../src/http/auth';

/**
 * The gateway answering WeCom's own app API (issue 36): a tool that speaks WeCom
 * changes its base URL to the gateway's and keeps working, through the pipeline.
 */

const ALPHA = 'alpha-compat-key-0123456789';
const SCOPED = 'scoped-compat-key-0123456789';
const READER = 'reader-compat-key-0123456789';
const SECOND = { name: 'second', corpId: SIM_APP.corpId, agentId: 1000003, secret: 'second-secret' };
const keyOf = (id: string, key: string, permissions: ApiKey['permissions'], scope?: ApiKey['scope']): ApiKey => ({
  id,
  key,
  permissions,
  ...(scope ? { scope } : {}),
});
const KEYS = [
  keyOf('alpha', ALPHA, new Set(['send', 'read', 'admin'])),
  keyOf('scoped', SCOPED, new Set(['send', 'read']), { apps: ['second'], allowAll: false }),
  keyOf('reader', READER, new Set(['read'])),
];

let now = Date.parse('2026-12-07T10:00:00Z');
const clock = () => now;
const logs = capturedLogs('debug');

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    clock,
    logger: logs.logger,
    simulator: { ...UNLIMITED_SIM, apps: [SIM_APP, SECOND], directory: { users: ['zhangsan', 'lisi'] } },
    env: { API_RATE_LIMIT_PER_MINUTE: '0' },
    config: (c) => ({ ...c, apps: [...c.apps, SECOND], apiKeys: KEYS }),
  });
});
afterAll(() => h.close());
beforeEach(() => h.sim.reset());

const token = async (secret = ALPHA) =>
  (await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: secret })).body.access_token as string;
const send = (accessToken: string, body: Record<string, unknown>) =>
  h.api.post(`/cgi-bin/message/send?access_token=${encodeURIComponent(accessToken)}`).send(body);
const text = (content: string, extra: Record<string, unknown> = {}) => ({
  touser: 'zhangsan',
  msgtype: 'text',
  agentid: SIM_APP.agentId,
  text: { content },
  ...extra,
});

describe('GET/POST /cgi-bin/gettoken', () => {
  it('when a tool asks with the corp id and a gateway API key, then it gets a token of the gateway, 7200 s', async () => {
    const res = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: ALPHA });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ errcode: 0, errmsg: 'ok', access_token: expect.any(String), expires_in: 7200 });
    expect(res.body.access_token).not.toContain(ALPHA);
    expect(h.sim.gettokenCount()).toBe(0);
  });

  it('when a wrong secret or an unknown corp id is given, then 40001 and 40013, HTTP 200', async () => {
    const wrong = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: 'not-a-key-at-all-000000' });
    expect([wrong.status, wrong.body.errcode]).toEqual([200, 40001]);
    expect(wrong.body.errmsg).toMatch(/, hint: \[.+\]$/);
    const corp = await h.api.get('/cgi-bin/gettoken').query({ corpid: 'wwnosuchcorp', corpsecret: ALPHA });
    expect([corp.status, corp.body.errcode]).toEqual([200, 40013]);
    const missing = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId });
    expect(missing.body.errcode).toBe(41004);
    const reader = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: READER });
    expect(reader.body.errcode).toBe(40001);
  });

  it('when the parameters come in a form or JSON body of a POST, then the token is issued as for the query', async () => {
    const form = await h.api.post('/cgi-bin/gettoken').type('form').send({ corpid: SIM_APP.corpId, corpsecret: ALPHA });
    const json = await h.api.post('/cgi-bin/gettoken').send({ corpid: SIM_APP.corpId, corpsecret: ALPHA });
    expect([form.body.errcode, json.body.errcode]).toEqual([0, 0]);
    const sent = await send(form.body.access_token, text('via form'));
    expect(sent.body.errcode).toBe(0);
    await finalStatus(h.api, sent.body.msgid, 10_000, ALPHA);
  });
});

describe("Grafana's WeCom contact point in app mode, replayed byte for byte", () => {
  it('when Grafana POSTs gettoken (query, no body) and then its markdown message/send, then the member gets the markdown', async () => {
    // receivers/wecom/wecom.go: POST <endpointUrl>/cgi-bin/gettoken?corpid=..&corpsecret=.. with an empty JSON-typed body.
    const got = await h.api
      .post(`/cgi-bin/gettoken?corpid=${SIM_APP.corpId}&corpsecret=${ALPHA}`)
      .set('Content-Type', 'application/json')
      .set('User-Agent', 'Grafana');
    expect(got.body).toMatchObject({ errcode: 0, expires_in: 7200 });
    // json.Marshal of Grafana's map: keys sorted, agentid a string, touser "@all" by default.
    const body =
      '{"agentid":"1000002","markdown":{"content":"# [FIRING:1] HighCPU (web-3)\\n**Firing**\\n\\nValue: B=97\\n' +
      'Labels:\\n - alertname = HighCPU\\n"},' +
      '"msgtype":"markdown","touser":"@all"}';
    const res = await h.api
      .post(`/cgi-bin/message/send?access_token=${got.body.access_token}`)
      .set('Content-Type', 'application/json')
      .send(body);
    expect(res.body).toEqual({ errcode: 0, errmsg: 'ok', msgid: expect.any(String) });
    await finalStatus(h.api, res.body.msgid, 10_000, ALPHA);
    expect(h.sim.sent[0].body).toMatchObject({ touser: '@all', msgtype: 'markdown', agentid: SIM_APP.agentId });
    expect((h.sim.sent[0].body as { markdown: { content: string } }).markdown.content).toContain('# [FIRING:1] HighCPU (web-3)');
  });
});

describe('gateway tokens: expiry and revocation', () => {
  it('when the injected clock moves past 7200 s and the 300 s grace, then the token answers 42001 and a fresh one works', async () => {
    const old = await token();
    // Within the grace a client renewing at exactly 2 h by its own clock (Alertmanager 0.25) is still served.
    now += 7_499_000;
    expect((await send(old, text('in grace'))).body.errcode).toBe(0);
    now += 2_000;
    const expired = await send(old, text('late'));
    expect([expired.status, expired.body.errcode]).toEqual([200, 42001]);
    expect((await send(await token(), text('fresh'))).body.errcode).toBe(0);
  });

  it('when the key is removed or changed, or the app secret changed (another gateway, same Redis), then its tokens answer 40014', async () => {
    const issued = await token();
    const changes = [
      { apiKeys: KEYS.slice(1) },
      { apiKeys: [{ ...KEYS[0], key: 'alpha-compat-key-CHANGED-0000' }, ...KEYS.slice(1)] },
      { apps: [{ ...h.config.apps[0], secret: 'rotated-app-secret' }, ...h.config.apps.slice(1)] },
    ];
    for (const change of changes) {
      const other = await createGateway({ ...h.config, ...change }, { clock });
      try {
        const res = await request(other.app).post(`/cgi-bin/message/send?access_token=${issued}`).send(text('revoked'));
        expect([res.status, res.body.errcode]).toEqual([200, 40014]);
      } finally {
        await other.close();
      }
    }
    // A leaked token is no oracle for guessing keys offline: its MAC is not keyed by the API key alone.
    const [payload, mac] = issued.split('.');
    expect(createHmac('sha256', ALPHA).update(payload).digest('base64url')).not.toBe(mac);
    const forged = `${payload}.${Buffer.from('not the mac').toString('base64url')}`;
    expect((await send(forged, text('forged'))).body.errcode).toBe(40014);
    expect((await h.api.post('/cgi-bin/message/send').send(text('none'))).body.errcode).toBe(41001);
  });
});

describe('POST /cgi-bin/message/send', () => {
  it('when a token sends a text, then the simulator gets it and GET /v1/messages/{msgid} shows it sent', async () => {
    const res = await send(await token(), text('Disk 95% on db1'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ errcode: 0, errmsg: 'ok', msgid: expect.any(String) });
    const view = await finalStatus(h.api, res.body.msgid, 10_000, ALPHA);
    expect(view).toMatchObject({ status: 'sent', event: 'wecom.message', app: 'default' });
    expect(h.sim.sent[0].body).toMatchObject({
      touser: 'zhangsan',
      msgtype: 'text',
      agentid: SIM_APP.agentId,
      text: { content: 'Disk 95% on db1' },
    });
  });

  it("when Alertmanager's body comes (agentid a string, an empty text beside the markdown), then the markdown goes", async () => {
    const body = {
      touser: 'zhangsan|lisi',
      msgtype: 'markdown',
      agentid: String(SIM_APP.agentId),
      safe: '0',
      text: { content: '' },
      markdown: { content: '**[FIRING:1]** HighCPU' },
    };
    const res = await send(await token(), body);
    expect(res.body.errcode).toBe(0);
    await finalStatus(h.api, res.body.msgid, 10_000, ALPHA);
    expect(h.sim.sent[0].body).toMatchObject({ touser: 'zhangsan|lisi', markdown: { content: '**[FIRING:1]** HighCPU' } });
  });

  it('when a key restricted to another app sends through the default app, or an agentid no app has, then 40056', async () => {
    const scoped = await token(SCOPED);
    expect((await send(scoped, text('not mine'))).body.errcode).toBe(40056);
    expect((await send(await token(), text('who', { agentid: 4242 }))).body.errcode).toBe(40056);
    const own = await send(scoped, text('mine', { agentid: SECOND.agentId }));
    expect(own.body.errcode).toBe(0);
    await finalStatus(h.api, own.body.msgid, 10_000, SCOPED);
    expect(h.sim.sent[0].body).toMatchObject({ agentid: SECOND.agentId });
    const everyone = await send(scoped, text('all', { agentid: SECOND.agentId, touser: '@all' }));
    expect(everyone.body.errcode).toBe(60011);
  });

  it("when a body breaks WeCom's limits, then WeCom's errcodes at accept time and nothing is sent", async () => {
    const t = await token();
    const answers = [
      await send(t, text('')),
      await send(t, text('x'.repeat(2049))),
      await send(t, { ...text('x'), msgtype: 'markdown', markdown: { content: '长'.repeat(683) } }),
      await send(t, { ...text('x'), msgtype: 'mpnews' }),
      await send(t, { ...text('x'), touser: '' }),
      await send(t, { ...text('x'), agentid: undefined }),
      await send(t, { ...text('x'), msgtype: 'news', news: { articles: [] } }),
      await send(t, { ...text('x'), msgtype: 'image', image: {} }),
    ];
    expect(answers.map((a) => [a.status, a.body.errcode])).toEqual(
      [44004, 45002, 45002, 40008, 82001, 41011, 40058, 40007].map((code) => [200, code]),
    );
    expect(answers[1].body.errmsg).toContain('text.content exceed max length 2048');
    expect(h.sim.sent).toHaveLength(0);
  });

  it("when a body carries the gateway's own media source beside media_id, then 40058 naming it and nothing is fetched or sent", async () => {
    const file = { media_id: 'x', media: { url: 'http://127.0.0.1:1/internal' } };
    const res = await send(await token(), { ...text('x'), msgtype: 'file', file });
    expect([res.status, res.body.errcode]).toEqual([200, 40058]);
    expect(res.body.errmsg).toContain('file.media');
    expect(h.sim.sent).toHaveLength(0);
  });

  it('when enable_duplicate_check is on, then a repeat of the same body answers the first msgid and sends nothing more', async () => {
    const t = await token();
    const body = text('once only', { enable_duplicate_check: 1, duplicate_check_interval: 600 });
    const first = await send(t, body);
    const again = await send(t, body);
    const other = await send(t, text('another', { enable_duplicate_check: 1 }));
    expect(again.body.msgid).toBe(first.body.msgid);
    expect(other.body.msgid).not.toBe(first.body.msgid);
    await finalStatus(h.api, first.body.msgid, 10_000, ALPHA);
    await finalStatus(h.api, other.body.msgid, 10_000, ALPHA);
    expect(h.sim.sent.map((m) => (m.body as { text: { content: string } }).text.content).sort()).toEqual(['another', 'once only']);
  });
});

describe('POST /cgi-bin/message/recall, media/upload, appchat/send', () => {
  it('when a sent message is recalled by its msgid, then WeCom recalls it; an unknown msgid is 40058', async () => {
    const t = await token();
    const sent = await send(t, text('oops'));
    await finalStatus(h.api, sent.body.msgid, 10_000, ALPHA);
    const res = await h.api.post(`/cgi-bin/message/recall?access_token=${t}`).send({ msgid: sent.body.msgid });
    expect(res.body).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(h.sim.sent[0].recalled).toBe(true);
    const unknown = await h.api.post(`/cgi-bin/message/recall?access_token=${t}`).send({ msgid: 'no-such-message' });
    expect(unknown.body.errcode).toBe(40058);
  });

  it("when a file is uploaded with media/upload, then its media_id is WeCom's and a message/send naming it is delivered", async () => {
    const t = await token();
    const up = await h.api
      .post(`/cgi-bin/media/upload?access_token=${t}&type=file`)
      .attach('media', Buffer.from('quarterly numbers'), 'report.txt');
    expect(up.body).toEqual({ errcode: 0, errmsg: 'ok', type: 'file', media_id: expect.any(String), created_at: expect.any(String) });
    const res = await send(t, { ...text('x'), msgtype: 'file', file: { media_id: up.body.media_id } });
    const view = await finalStatus(h.api, res.body.msgid, 10_000, ALPHA);
    expect(view.status).toBe('sent');
    expect(h.sim.sent[0].body).toMatchObject({ msgtype: 'file', file: { media_id: up.body.media_id } });
    const badType = await h.api.post(`/cgi-bin/media/upload?access_token=${t}&type=movie`).attach('media', Buffer.from('abcdefg'), 'a.bin');
    expect(badType.body.errcode).toBe(40005);
  });

  it("when WeCom refuses the gateway's own upload call (its rate limit, its token), then -1 naming WeCom's errcode", async () => {
    const t = await token();
    const upload = () => h.api.post(`/cgi-bin/media/upload?access_token=${t}&type=file`).attach('media', Buffer.from('numbers'), 'a.txt');
    h.sim.failNext(1, { errcode: 45009, errmsg: 'api freq out of limit' }, 'media/upload');
    const limited = await upload();
    expect([limited.status, limited.body.errcode]).toEqual([200, -1]);
    expect(limited.body.errmsg).toContain('45009');
    h.sim.failNext(2, { errcode: 40014, errmsg: 'invalid access_token' }, 'media/upload');
    expect((await upload()).body.errcode).toBe(-1);
    // A refusal of the file itself is the caller's to see.
    h.sim.failNext(1, { errcode: 40006, errmsg: 'invalid file size' }, 'media/upload');
    expect((await upload()).body.errcode).toBe(40006);
  });

  it('when appchat/send names a chat registered with the gateway, then the chat gets it; an unknown chat is 86001', async () => {
    const created = await h.api
      .post('/v1/chats')
      .set('Authorization', `Bearer ${ALPHA}`)
      .send({ name: 'oncall', owner: 'zhangsan', users: ['zhangsan', 'lisi'], chatid: 'compat1' });
    expect(created.status).toBe(201);
    const t = await token();
    const res = await h.api
      .post(`/cgi-bin/appchat/send?access_token=${t}`)
      .send({ chatid: 'compat1', msgtype: 'text', text: { content: 'to the chat' }, safe: 0 });
    expect(res.body).toEqual({ errcode: 0, errmsg: 'ok' });
    await eventually(() => h.sim.chatSent.length === 1);
    expect(h.sim.chatSent[0]).toMatchObject({ chatid: 'compat1' });
    const unknown = await h.api
      .post(`/cgi-bin/appchat/send?access_token=${t}`)
      .send({ chatid: 'nosuch', msgtype: 'text', text: { content: 'x' } });
    expect(unknown.body.errcode).toBe(86001);
  });
});

describe('WeCom-style answers to what the gateway does not take', () => {
  it('when an unknown path, a GET for a POST, update_template_card or bad JSON come, then WeCom-style bodies with HTTP 200', async () => {
    const t = await token();
    const unknown = await h.api.post('/cgi-bin/user/get').send({});
    expect([unknown.status, unknown.type, unknown.body.errcode]).toEqual([200, 'application/json', 48001]);
    expect(unknown.body.errmsg).toContain('user/get');
    expect(unknown.body.errmsg).toContain('message/send');
    const get = await h.api.get(`/cgi-bin/message/send?access_token=${t}`);
    expect([get.status, get.body.errcode]).toEqual([200, 40058]);
    const card = await h.api.post(`/cgi-bin/message/update_template_card?access_token=${t}`).send({});
    expect(card.body.errcode).toBe(48001);
    expect(card.body.errmsg).toContain('response_code');
    const bad = await h.api.post(`/cgi-bin/message/send?access_token=${t}`).set('Content-Type', 'application/json').send('{"touser":');
    expect([bad.status, bad.body.errcode]).toEqual([200, 40058]);
    const big = await h.api
      .post(`/cgi-bin/message/send?access_token=${t}`)
      .set('Content-Type', 'application/json')
      .send(`{"a":"${'x'.repeat(5 * 1024 * 1024)}"}`);
    expect([big.status, big.body.errcode]).toEqual([200, 40058]);
  });

  it('when tokens and secrets pass through, then no log line holds a token, a corpsecret or an API key', async () => {
    logs.lines.length = 0;
    const t = await token();
    await send(t, text('logged?'));
    await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: 'a-wrong-secret-0000000000' });
    const all = JSON.stringify(logs.lines);
    expect(logs.lines.some((l) => String(l.req?.url ?? '').startsWith('/cgi-bin/'))).toBe(true);
    for (const secret of [t, ALPHA, 'a-wrong-secret-0000000000']) expect(all).not.toContain(secret);
  });
});

describe('the access log of /cgi-bin/ refusals', () => {
  it('when a request is refused (HTTP 200, errcode non-zero), then its access log line is warn, with the errcode and the hint id', async () => {
    logs.lines.length = 0;
    const refused = await h.api.post('/cgi-bin/message/send?access_token=not-a-token').send(text('x'));
    expect(refused.body.errcode).toBe(40014);
    const hint = /hint: \[(.+)\]$/.exec(refused.body.errmsg)?.[1];
    const line = logs.lines.find((l) => l.req?.id === hint && l.msg === 'request completed');
    expect(line).toMatchObject({ level: 40, errcode: 40014, res: { statusCode: 200 } });
    expect(JSON.stringify(line)).not.toContain('not-a-token');
  });
});

describe('the per-key rate limit', () => {
  it('when a key passes its requests a minute on the compat routes, then 45009 with HTTP 200', async () => {
    const limited = await startHarness({ env: { API_RATE_LIMIT_PER_MINUTE: '3' }, config: (c) => ({ ...c, apiKeys: KEYS }) });
    try {
      const got = await limited.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: ALPHA });
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push(
          (await limited.api.post(`/cgi-bin/message/send?access_token=${got.body.access_token}`).send(text(`n${i}`))).body.errcode,
        );
      expect(codes).toEqual([0, 0, 0, 45009, 45009]);
    } finally {
      await limited.close();
    }
  });
});

describe('keyless mode (no GATEWAY_API_KEYS)', () => {
  it('when a loopback caller asks gettoken with any corpsecret, then its token sends, as /v1 serves loopback keyless', async () => {
    const keyless = await startHarness();
    try {
      const got = await keyless.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: 'anything' });
      expect(got.body.errcode).toBe(0);
      const sent = await keyless.api.post(`/cgi-bin/message/send?access_token=${got.body.access_token}`).send(text('local'));
      expect(sent.body.errcode).toBe(0);
      expect((await finalStatus(keyless.api, sent.body.msgid)).status).toBe('sent');
      const proxied = await keyless.api
        .get('/cgi-bin/gettoken')
        .set('X-Forwarded-For', '203.0.113.9')
        .query({ corpid: SIM_APP.corpId, corpsecret: 'anything' });
      expect(proxied.body.errcode).toBe(60020);
    } finally {
      await keyless.close();
    }
  });
});
