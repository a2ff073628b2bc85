import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { WecomSimulator } from '../../src/simulator/simulator';
import { alert, finalStatus, SIM_APP, startHarness, type Harness } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

/**
 * Issue 33, items 4 and 10: on a gateway many teams share, the console does no more
 * than the caller's key may do through the API, and no other site can make a
 * browser act on the console, on a keyless gateway or on the sandbox's simulator.
 */
const ADMIN = 'admin-key-0123456789abcdef';
const OPERATOR = 'operator-key-0123456789abc';
const SCOPED = 'scoped-key-0123456789abcdef';
const OPS_ROBOT = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5b0a1';
const DEV_ROBOT = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5b0a2';
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const tryout = (overrides: Record<string, unknown> = {}) => ({
  event: 'program.alert',
  msgtype: 'text',
  data: { title: 'console check', content: 'c', level: 'info' },
  recipient: 'lisi',
  ...overrides,
});

describe('console actions, as the API would allow them', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wgw-console-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      ['apiKeys:', `  - { name: team-ops, key: ${SCOPED}, permissions: [send, admin], events: [program.alert], robots: [ops] }`].join('\n'),
    );
    h = await startHarness({
      env: { GATEWAY_API_KEYS: `${ADMIN},${OPERATOR}:read+admin`, GATEWAY_CONFIG: file, WECOM_ROBOTS: `ops=${OPS_ROBOT},dev=${DEV_ROBOT}` },
      simulator: { robotKeys: [OPS_ROBOT, DEV_ROBOT] },
    });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('POST /dashboard/playground/send and /render', () => {
    it('when an operator key without send (read+admin) tries the playground, then send and render are 403 as POST /v1/messages and /preview are, and nothing is sent', async () => {
      const before = h.sim.sent.length;
      expect(
        (
          await h.api
            .post('/v1/messages')
            .set(bearer(OPERATOR))
            .send(alert({ to: '@all' }))
        ).status,
      ).toBe(403);
      const send = await h.api
        .post('/dashboard/playground/send')
        .set(bearer(OPERATOR))
        .send(tryout({ recipient: '@all' }));
      expect({ status: send.status, code: send.body.error?.code }).toEqual({ status: 403, code: 'forbidden' });
      expect(send.body.error.message).toMatch(/may not send/);
      const render = await h.api.post('/dashboard/playground/render').set(bearer(OPERATOR)).send(tryout());
      expect({ status: render.status, code: render.body.error?.code }).toEqual({ status: 403, code: 'forbidden' });
      const alertRender = await h.api
        .post('/dashboard/alert-playground/render')
        .set(bearer(OPERATOR))
        .send({ source: 'alertmanager', payload: {} });
      expect({ status: alertRender.status, code: alertRender.body.error?.code }).toEqual({ status: 403, code: 'forbidden' });
      await new Promise((r) => setTimeout(r, 200));
      expect(h.sim.sent.length).toBe(before);
    });

    it('when a scoped send+admin key tries the playground, then only what its scope allows is sent: another event, robot or "@all" is 403 naming the field', async () => {
      const outside = [
        tryout({ event: 'deploy.finished', data: { service: 'api', version: '1.2.3', environment: 'prod' } }),
        tryout({ robot: 'dev', recipient: '' }),
        tryout({ recipient: '@all' }),
      ];
      for (const body of outside) {
        const res = await h.api.post('/dashboard/playground/send').set(bearer(SCOPED)).send(body);
        expect({ body, status: res.status }).toEqual({ body, status: 403 });
      }
      const inside = await h.api.post('/dashboard/playground/send').set(bearer(SCOPED)).send(tryout());
      expect(inside.status).toBe(202);
      expect((await finalStatus(h.api, inside.body.id, 10_000, ADMIN)).status).toBe('sent');
    });
  });

  describe('POST /dashboard/messages/{id}/recall', () => {
    it('when a key without send recalls through the console, then it is refused with a notice saying why, and the message stays sent', async () => {
      const sent = await h.api
        .post('/v1/messages')
        .set(bearer(ADMIN))
        .send(alert({ data: { title: 'keep me', content: 'c', level: 'info' } }));
      await finalStatus(h.api, sent.body.id, 10_000, ADMIN);
      const res = await h.api.post(`/dashboard/messages/${sent.body.id}/recall`).set(bearer(OPERATOR)).type('form').send({});
      expect(res.status).toBe(303);
      expect(decodeURIComponent(res.headers.location)).toMatch(/may not send/);
      expect((await h.api.get(`/v1/messages/${sent.body.id}`).set(bearer(ADMIN))).body.status).toBe('sent');
      expect(h.sim.sent.find((m) => JSON.stringify(m.body).includes('keep me'))?.recalled).toBeFalsy();
    });
  });

  describe('same origin on every unsafe method under /dashboard', () => {
    it('when another site posts a form to bull-board (add a job) or asks it to pause a queue, then 403 and the queue is untouched', async () => {
      const queue = h.gateway.queues.get('send')!;
      const name = queue.name;
      const waiting = () => queue.getJobCounts();
      const before = await waiting();
      const add = await h.api
        .post(`/dashboard/queues/api/queues/${encodeURIComponent(name)}/add`)
        .set(bearer(ADMIN))
        .set('Origin', 'https://evil.example')
        .type('form')
        .send({ name: 'forged' });
      expect({ status: add.status, code: add.body.error?.code }).toEqual({ status: 403, code: 'cross_site' });
      const pause = await h.api
        .put(`/dashboard/queues/api/queues/${encodeURIComponent(name)}/pause`)
        .set(bearer(ADMIN))
        .set('Sec-Fetch-Site', 'cross-site');
      expect({ status: pause.status, code: pause.body.error?.code }).toEqual({ status: 403, code: 'cross_site' });
      expect(await waiting()).toEqual(before);
      expect(await queue.isPaused()).toBe(false);
      // From the console's own page, it works.
      const own = await h.api
        .put(`/dashboard/queues/api/queues/${encodeURIComponent(name)}/pause`)
        .set(bearer(ADMIN))
        .set('Sec-Fetch-Site', 'same-origin');
      expect(own.status).toBe(200);
      expect(
        (
          await h.api
            .put(`/dashboard/queues/api/queues/${encodeURIComponent(name)}/resume`)
            .set(bearer(ADMIN))
            .set('Sec-Fetch-Site', 'same-origin')
        ).status,
      ).toBe(200);
    });

    it('when the console is reached through a TLS proxy that does not say so (no TRUST_PROXY), then its own https origin is accepted; another host or an opaque origin is not', async () => {
      const render = (origin: string, host = 'gw.example') =>
        h.api.post('/dashboard/playground/render').set(bearer(ADMIN)).set('Host', host).set('Origin', origin).send(tryout());
      expect((await render('https://gw.example')).status).toBe(200);
      expect((await render('https://gw.example:8443', 'gw.example:8443')).status).toBe(200);
      for (const origin of ['https://evil.example', 'https://gw.example.evil.example', 'null', 'https://gw.example:9999']) {
        const res = await render(origin);
        expect({ origin, status: res.status, code: res.body.error?.code }).toEqual({ origin, status: 403, code: 'cross_site' });
      }
    });
  });
});

describe('keyless mode: same origin for /v1 writes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('when a page on another site makes a local browser post to /v1/messages, then 403; curl (neither header) and the same origin are served', async () => {
    const before = h.sim.sent.length;
    const fromSite = await h.api.post('/v1/messages').set('Origin', 'https://evil.example').send(alert());
    expect({ status: fromSite.status, code: fromSite.body.error?.code }).toEqual({ status: 403, code: 'cross_site' });
    expect(fromSite.body.error.message).toContain('GATEWAY_API_KEYS');
    const marked = await h.api.post('/v1/messages').set('Sec-Fetch-Site', 'cross-site').send(alert());
    expect({ status: marked.status, code: marked.body.error?.code }).toEqual({ status: 403, code: 'cross_site' });
    const replay = await h.api.post('/v1/contacts/dead-letters/replay').set('Origin', 'https://evil.example');
    expect(replay.status).toBe(403);
    expect(h.sim.sent.length).toBe(before);

    const curl = await h.api.post('/v1/messages').send(alert());
    expect(curl.status).toBe(202);
    const sameOrigin = await h.api
      .post('/v1/messages')
      .set('Host', 'localhost:8080')
      .set('Origin', 'http://localhost:8080')
      .set('Sec-Fetch-Site', 'same-origin')
      .send(alert());
    expect(sameOrigin.status).toBe(202);
    // Reading stays open to local callers: a browser will not hand another site the answer.
    expect((await h.api.get('/v1/events').set('Origin', 'https://evil.example')).status).toBe(200);
  });
});

describe('contact extAttrs', () => {
  const TOKEN = 'extAttrsToken1';
  const AES_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg';
  const HR = 'hr-key-0123456789abcdef';
  const READER = 'reader-key-0123456789abc';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: {
        WECOM_CALLBACK_TOKEN: TOKEN,
        WECOM_CALLBACK_AES_KEY: AES_KEY,
        CONTACTS_PII_KEYS: HR,
        GATEWAY_API_KEYS: `${HR}:read,${READER}:read,${ADMIN}`,
        CONTACTS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      },
    });
    const crypto = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
    const extAttr =
      '<ExtAttr><Item><Name><![CDATA[身份证号]]></Name><Type>0</Type><Text><Value><![CDATA[110101199003071234]]></Value></Text></Item>' +
      '<Item><Name><![CDATA[私人手机]]></Name><Type>0</Type><Text><Value><![CDATA[13912345678]]></Value></Text></Item>' +
      '<Item><Name><![CDATA[主页]]></Name><Type>1</Type><Web><Title><![CDATA[Wang Wu at home]]></Title>' +
      '<Url><![CDATA[https://wangwu.example/me]]></Url></Web></Item></ExtAttr>';
    const xml = eventXml({
      ToUserName: SIM_APP.corpId,
      FromUserName: 'sys',
      CreateTime: '1700000000',
      MsgType: 'event',
      Event: 'change_contact',
      ChangeType: 'create_user',
      UserID: 'wangwu',
      Name: '王五',
      Mobile: '13800001234',
    }).replace('</xml>', `${extAttr}</xml>`);
    const push = encryptedPush(crypto, SIM_APP.corpId, xml);
    expect((await h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body)).status).toBe(200);
  });
  afterAll(() => h.close());

  it('when a key without CONTACTS_PII_KEYS reads a member or the feed, then extAttrs values are masked like mobile; a PII key sees them', async () => {
    for (const key of [READER, ADMIN]) {
      const user = await h.api.get('/v1/contacts/users/wangwu').set(bearer(key));
      expect(user.body.mobile).toBe('138****34');
      expect(user.body.extAttrs).toEqual([
        { name: '身份证号', type: 'text', value: '110****34' },
        { name: '私人手机', type: 'text', value: '139****78' },
        { name: '主页', type: 'web', title: 'Wan****me', url: 'htt****me' },
      ]);
      const feed = await h.api.get('/v1/contacts/changes?since=0').set(bearer(key));
      expect(JSON.stringify(feed.body)).not.toMatch(/110101199003071234|13912345678|wangwu\.example/);
    }
    const clear = await h.api.get('/v1/contacts/users/wangwu').set(bearer(HR));
    expect(clear.body.extAttrs).toEqual([
      { name: '身份证号', type: 'text', value: '110101199003071234' },
      { name: '私人手机', type: 'text', value: '13912345678' },
      { name: '主页', type: 'web', title: 'Wang Wu at home', url: 'https://wangwu.example/me' },
    ]);
  });
});

describe('the simulator: local names only, same origin for its controls', () => {
  let sim: WecomSimulator;
  beforeAll(async () => {
    sim = await WecomSimulator.start({ apps: [SIM_APP] });
  });
  afterAll(() => sim.stop());

  it('when a request names another host (a DNS-rebinding page), then 403 saying why, on its controls and its WeCom API alike', async () => {
    for (const path of ['/__sim/messages', '/__sim/stats', `/cgi-bin/gettoken?corpid=${SIM_APP.corpId}&corpsecret=${SIM_APP.secret}`]) {
      const res = await request(sim.url).get(path).set('Host', 'evil.example');
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
      expect(res.text).toMatch(/localhost/);
      expect(res.text).not.toContain('evil.example');
    }
    for (const host of ['localhost', 'LOCALHOST:8081', '127.0.0.1:8081', '[::1]:8081']) {
      expect({ host, status: (await request(sim.url).get('/__sim/stats').set('Host', host)).status }).toEqual({ host, status: 200 });
    }
  });

  it('when another site posts to a control (reset), then 403 and nothing is reset; curl and its own pages may', async () => {
    sim.failNext(1, { errcode: 45009 }, 'gettoken');
    const crossSite = await request(sim.url).post('/__sim/reset').set('Origin', 'https://evil.example');
    expect(crossSite.status).toBe(403);
    expect(crossSite.text).toMatch(/another site/);
    const marked = await request(sim.url)
      .post('/__sim/faults')
      .set('Sec-Fetch-Site', 'cross-site')
      .send({ n: 1, fault: { errcode: 45009 } });
    expect(marked.status).toBe(403);
    // The fault set before is still there: the forged reset did nothing.
    const gettoken = await request(sim.url).get(`/cgi-bin/gettoken?corpid=${SIM_APP.corpId}&corpsecret=${SIM_APP.secret}`);
    expect(gettoken.body.errcode).toBe(45009);
    expect((await request(sim.url).post('/__sim/reset')).status).toBe(200);
    expect((await request(sim.url).post('/__sim/reset').set('Origin', sim.url)).status).toBe(200);
  });
});
