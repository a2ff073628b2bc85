import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallbackEvent } from '../../src/wecom/callback/event';
import { signWebhook } from '../../src/webhooks/webhook-outbox';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import * as xmlModule from '../../src/wecom/callback/xml';
import { parseCallbackXml } from '../../src/wecom/callback/xml';
import { eventually, metricLines, SIM_APP, startHarness, type Harness } from '../support/harness';
import { capturedLogs } from '../support/captured-logs';
import { encryptedPush, eventXml } from '../support/wecom-push';

const TOKEN = 'gatewayToken123';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const CALLBACK_ENV = { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY };
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
const vectors = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'wecom-vectors.json'), 'utf8')) as Record<string, string>[];

/** Every event the router hands on: inline rules (in the request) and queued dispatch (from the worker). */
function capture(h: Harness): CallbackEvent[] {
  const seen: CallbackEvent[] = [];
  const router = h.gateway.router;
  const dispatch = router.dispatch.bind(router);
  const findInline = router.findInline.bind(router);
  jest.spyOn(router, 'dispatch').mockImplementation(async (event) => {
    seen.push(event);
    return dispatch(event);
  });
  jest.spyOn(router, 'findInline').mockImplementation((event) => {
    const rule = findInline(event);
    return rule && { ...rule, handle: async (e: CallbackEvent) => (seen.push(e), rule.handle(e)) };
  });
  return seen;
}

function post(h: Harness, xml: string, path = '/wecom/callback') {
  const push = encryptedPush(wecom, SIM_APP.corpId, xml);
  return h.api.post(`${path}?${push.query}`).set('content-type', 'text/xml').send(push.body);
}

const base = { ToUserName: SIM_APP.corpId, FromUserName: 'zhangsan', CreateTime: '1700000000' };
/** One push of each shape in reference §7. */
const EVENTS: Record<string, string>[] = [
  { ...base, MsgType: 'text', Content: 'ack 42', MsgId: '7300000000000000001', AgentID: '1000002' },
  { ...base, MsgType: 'image', PicUrl: 'https://p.example/1.png', MediaId: 'm1', MsgId: '7300000000000000002', AgentID: '1000002' },
  { ...base, MsgType: 'voice', MediaId: 'm2', Format: 'amr', MsgId: '7300000000000000003', AgentID: '1000002' },
  { ...base, MsgType: 'video', MediaId: 'm3', ThumbMediaId: 't3', MsgId: '7300000000000000004', AgentID: '1000002' },
  {
    ...base,
    MsgType: 'location',
    Location_X: '23.13',
    Location_Y: '113.26',
    Scale: '20',
    Label: 'Guangzhou',
    MsgId: '7300000000000000005',
    AgentID: '1000002',
  },
  {
    ...base,
    MsgType: 'link',
    Title: 't',
    Description: 'd',
    Url: 'https://x.example',
    PicUrl: 'https://p.example/2.png',
    MsgId: '7300000000000000006',
    AgentID: '1000002',
  },
  { ...base, MsgType: 'event', Event: 'click', EventKey: 'ack_all', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'view', EventKey: 'https://x.example', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'enter_agent', EventKey: '', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'LOCATION', Latitude: '23.1', Longitude: '113.2', Precision: '10', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'subscribe', AgentID: '1000002' },
  {
    ...base,
    MsgType: 'event',
    Event: 'template_card_event',
    EventKey: 'ack',
    TaskId: 'alert-42-ack',
    CardType: 'button_interaction',
    ResponseCode: 'rc1',
    AgentID: '1000002',
  },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_contact',
    ChangeType: 'create_user',
    UserID: 'wangwu',
    Name: '王五',
    Department: '1,2',
    MainDepartment: '1',
  },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_contact',
    ChangeType: 'update_user',
    UserID: 'zhangsan',
    NewUserID: 'zhangsan01',
    Department: '1,5',
  },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'delete_user', UserID: 'lisi' },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_contact',
    ChangeType: 'create_party',
    Id: '7',
    Name: 'SRE',
    ParentId: '1',
    Order: '1',
  },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'update_party', Id: '7', Name: 'SRE team' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'delete_party', Id: '7' },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_contact',
    ChangeType: 'update_tag',
    TagId: '3',
    AddUserItems: 'a,b',
    DelUserItems: 'c',
  },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_external_contact',
    ChangeType: 'add_external_contact',
    UserID: 'sales01',
    ExternalUserID: 'wmAJ2GCAAAXtWyujaWJHDDGi0mACAAAA',
    State: 'expo2026',
    WelcomeCode: 'WELCOMECODE',
  },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_external_contact',
    ChangeType: 'add_half_external_contact',
    UserID: 'sales01',
    ExternalUserID: 'wmB',
    State: 'expo2026',
    WelcomeCode: 'CODE2',
  },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_external_contact',
    ChangeType: 'del_external_contact',
    UserID: 'sales01',
    ExternalUserID: 'wmB',
    Source: 'DELETE_BY_TRANSFER',
  },
  {
    ...base,
    FromUserName: 'sys',
    MsgType: 'event',
    Event: 'change_external_contact',
    ChangeType: 'del_follow_user',
    UserID: 'sales01',
    ExternalUserID: 'wmC',
  },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'batch_job_result', AgentID: '1000002' },
];

const nowSeconds = () => String(Math.floor(Date.now() / 1000));
const send = (h: Harness, push: { query: string; body: string }, path = '/wecom/callback') =>
  h.api.post(`${path}?${push.query}`).set('content-type', 'text/xml').send(push.body);

/** A URL verification as WeCom's admin console sends it: echostr encrypted and signed, percent-encoded. */
function verification(echo: string, timestamp = nowSeconds()) {
  const echostr = wecom.encrypt(echo);
  return `msg_signature=${wecom.signature(timestamp, '7', echostr)}&timestamp=${timestamp}&nonce=7&echostr=${encodeURIComponent(echostr)}`;
}

describe('the published WXBizMsgCrypt samples', () => {
  let h: Harness;
  let seen: CallbackEvent[];
  beforeAll(async () => {
    h = await startHarness({
      // The samples are signed with their own timestamps, from 2014: only with the window off can they pass.
      env: { ...CALLBACK_ENV, CALLBACK_MAX_SKEW_SECONDS: '0' },
      config: (c) => ({
        ...c,
        apps: [
          ...c.apps,
          ...vectors
            .filter((v) => v.echostr)
            .map((v, i) => ({
              name: `sample${i}`,
              corpId: v.receiveId,
              agentId: 1000002 + i,
              secret: 's',
              callback: { token: v.token, aesKey: v.encodingAESKey },
            })),
          {
            name: 'sample',
            corpId: vectors[1].receiveId,
            agentId: 218,
            secret: 's',
            callback: { token: vectors[1].token, aesKey: vectors[1].encodingAESKey },
          },
        ],
      }),
    });
    seen = capture(h);
  });
  afterAll(() => h.close());

  it('when the admin console verifies the URL with the published samples, then the bare plaintext echostr is answered', async () => {
    const samples = vectors.filter((v) => v.echostr);
    expect(samples.length).toBeGreaterThanOrEqual(2);
    for (const [i, v] of samples.entries()) {
      const query = `msg_signature=${v.msgSignature}&timestamp=${v.timestamp}&nonce=${v.nonce}&echostr=${encodeURIComponent(v.echostr)}`;
      const res = await h.api.get(`/wecom/callback/sample${i}?${query}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toBe(v.expectedPlaintext);
    }
  });

  it('when the published sample push arrives, then it is acknowledged and its message reaches the router', async () => {
    const v = vectors[1];
    const res = await h.api
      .post(`/wecom/callback/sample?msg_signature=${v.msgSignature}&timestamp=${v.timestamp}&nonce=${v.nonce}`)
      .set('content-type', 'text/xml')
      .send(v.postData);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    const [event] = await eventually(() => (seen.length > 0 ? seen : undefined));
    expect(event.fields).toMatchObject({ MsgType: 'text', Content: 'hello', MsgId: '4561255354251345929', AgentID: '218' });
  });

  it('when the window is off, then a timestamp must still be Unix seconds', async () => {
    const v = vectors[0];
    const res = await h.api.get(
      `/wecom/callback/sample0?msg_signature=${v.msgSignature}` +
        `&timestamp=${v.timestamp}.0&nonce=${v.nonce}&echostr=${encodeURIComponent(v.echostr)}`,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([expect.objectContaining({ field: 'timestamp' })]);
  });
});

describe('GET /wecom/callback (URL verification)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: CALLBACK_ENV }); // the replay window as shipped: 300 s
  });
  afterAll(() => h.close());

  it('when echostr arrives with a literal +, then it is kept as + (not a space)', async () => {
    // Find a ciphertext containing "+" so the case is really exercised.
    let encrypted: string | undefined;
    for (let i = 0; !encrypted && i < 200; i++) {
      const candidate = wecom.encrypt(`echo${i}`);
      if (candidate.includes('+')) encrypted = candidate;
    }
    const timestamp = nowSeconds();
    const signature = wecom.signature(timestamp, '42', encrypted!);
    const res = await h.api.get(
      `/wecom/callback?msg_signature=${signature}` +
        `&timestamp=${timestamp}&nonce=42&echostr=${encrypted!.replace(/\//g, '%2F').replace(/=/g, '%3D')}`,
    );
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^echo\d+$/);
  });

  it('when the signature is wrong or a parameter is missing, then 4xx and no plaintext', async () => {
    const echostr = wecom.encrypt('5550123');
    const timestamp = nowSeconds();
    const bad = await h.api.get(
      `/wecom/callback?msg_signature=${'0'.repeat(40)}&timestamp=${timestamp}&nonce=1&echostr=${encodeURIComponent(echostr)}`,
    );
    expect(bad.status).toBe(401);
    expect(bad.text).not.toContain('5550123');
    expect((await h.api.get(`/wecom/callback?timestamp=1&nonce=2`)).status).toBe(400);
    expect((await h.api.get(`/wecom/callback/nosuchapp?msg_signature=a&timestamp=1&nonce=2&echostr=x`)).status).toBe(404);
  });

  it('when the verification is signed more than 300 s ago (the default window), then 403 and nothing is echoed', async () => {
    const res = await h.api.get(`/wecom/callback?${verification('42424242', String(Math.floor(Date.now() / 1000) - 301))}`);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'stale_timestamp', fields: [expect.objectContaining({ field: 'timestamp' })] });
    expect(res.text).not.toContain('42424242');
    expect((await h.api.get(`/wecom/callback?${verification('42424242')}`)).text).toBe('42424242');
  });

  it.each(['1.7e9', 'abc', '-1', '0x10', ' 1700000000', '1'.repeat(20)])(
    'when the timestamp is %j, then 400 naming timestamp',
    async (timestamp) => {
      const echostr = wecom.encrypt('42');
      const res = await h.api.get(
        `/wecom/callback?msg_signature=${wecom.signature(timestamp, '7', echostr)}` +
          `&timestamp=${encodeURIComponent(timestamp)}&nonce=7&echostr=${encodeURIComponent(echostr)}`,
      );
      expect(res.status).toBe(400);
      expect(res.body.error.fields).toEqual([expect.objectContaining({ field: 'timestamp' })]);
    },
  );

  it("when a captured push's Encrypt is replayed as echostr with its own signature, then 400 and its plaintext never appears", async () => {
    const push = encryptedPush(
      wecom,
      SIM_APP.corpId,
      eventXml({ ...base, MsgType: 'text', Content: 'the secret plan', MsgId: '7300000000000000777', AgentID: '1000002' }),
    );
    // The push's signature covers exactly what a verification's does: token, timestamp, nonce and the ciphertext.
    const res = await h.api.get(
      `/wecom/callback?msg_signature=${push.signature}` +
        `&timestamp=${push.timestamp}&nonce=${push.nonce}&echostr=${encodeURIComponent(push.encrypt)}`,
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'bad_echostr', fields: [expect.objectContaining({ field: 'echostr' })] });
    expect(res.text).not.toMatch(/secret plan|<xml|CDATA|zhangsan/);
  });

  it('when the echostr decrypts to something longer than 64 letters and digits, then 400', async () => {
    expect((await h.api.get(`/wecom/callback?${verification('9'.repeat(64))}`)).status).toBe(200);
    for (const echo of ['9'.repeat(65), 'a-b', '12 34', '\u00e9t\u00e9']) {
      const res = await h.api.get(`/wecom/callback?${verification(echo)}`);
      expect(res.status).toBe(400);
      expect(res.text).not.toContain(echo);
    }
  });

  it('when verifications are refused, then the metrics name why', async () => {
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    for (const outcome of [
      'rejected-bad_signature',
      'rejected-stale_timestamp',
      'rejected-bad_timestamp',
      'rejected-bad_echostr',
      'verified',
    ])
      expect(metrics).toContain(`outcome="${outcome}"`);
  });
});

describe('POST /wecom/callback', () => {
  let h: Harness;
  let seen: CallbackEvent[];
  beforeAll(async () => {
    h = await startHarness({
      env: CALLBACK_ENV,
      config: (c) => ({
        ...c,
        callback: {
          ...c.callback,
          autoReplies: [
            { match: 'keyword', pattern: 'ping', reply: 'pong to {{fromUser}}' },
            { match: 'regex', pattern: 'a*a*a*b', reply: 'slow' },
          ],
        },
      }),
    });
    seen = capture(h);
  });
  afterAll(() => h.close());
  beforeEach(() => {
    seen.length = 0;
  });

  it('when each push shape of the reference arrives, then each reaches the router once with its fields', async () => {
    for (const fields of EVENTS) expect((await post(h, eventXml(fields))).status).toBe(200);
    await eventually(() => seen.length >= EVENTS.length || undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(EVENTS.length);
    for (const fields of EVENTS) {
      const match = seen.find(
        (e) => e.fields.MsgType === fields.MsgType && e.fields.Event === fields.Event && e.fields.ChangeType === fields.ChangeType,
      );
      expect(match?.fields).toEqual(fields);
    }
  });

  it('when WeCom repeats a push 3 times, then it is handled once', async () => {
    const xml = eventXml({
      ...base,
      FromUserName: 'sys',
      MsgType: 'event',
      Event: 'change_contact',
      ChangeType: 'delete_user',
      UserID: 'repeat-me',
    });
    // WeCom re-encrypts each retry: same plaintext, new random prefix, new signature.
    for (let i = 0; i < 3; i++) expect((await post(h, xml)).status).toBe(200);
    await eventually(() => seen.length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((e) => e.fields.UserID === 'repeat-me')).toHaveLength(1);
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    expect(metrics).toMatch(/outcome="duplicate"} 2/);
  });

  it('when WeCom repeats a queued push (a member message), also after its job is done and removed, then it is handled once and each repeat is a duplicate', async () => {
    const xml = eventXml({ ...base, MsgType: 'text', Content: 'repeat me', MsgId: '7300000000000000777', AgentID: '1000002' });
    const duplicates = async () =>
      Number(/outcome="duplicate"} (\d+)/.exec(await metricLines(h.api, 'wecom_gateway_callbacks_total'))?.[1] ?? 0);
    const before = await duplicates();
    for (let i = 0; i < 2; i++) expect((await post(h, xml)).status).toBe(200);
    await eventually(() => seen.length > 0 || undefined);
    const inbound = h.gateway.queues.get('inbound')!;
    await eventually(async () => (await inbound.getJobCounts('completed')).completed > 0 || undefined);
    await inbound.clean(0, 1000, 'completed'); // what retention does to it later
    expect((await post(h, xml)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((e) => e.fields.Content === 'repeat me')).toHaveLength(1);
    expect((await duplicates()) - before).toBe(2);
  });

  it('when a captured push is replayed byte for byte inside the window, then it is a duplicate, and its dedupe key outlives the window', async () => {
    const push = encryptedPush(
      wecom,
      SIM_APP.corpId,
      eventXml({ ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'delete_user', UserID: 'replay-me' }),
    );
    for (let i = 0; i < 2; i++) expect((await send(h, push)).status).toBe(200);
    await eventually(() => seen.length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((e) => e.fields.UserID === 'replay-me')).toHaveLength(1);
    const [key] = await h.redis.keys(h.keys.callbackSeen('default_evt_*'));
    const windowSeconds = h.config.callback.maxSkewSeconds;
    expect(windowSeconds).toBe(300);
    // Accepted from t - window to t + window: the key must still be there at the end of that span.
    expect(await h.redis.ttl(key)).toBeGreaterThan(2 * windowSeconds);
  });

  it('when WeCom repeats a push while its first delivery is still being recorded, then the repeat gets 503 (not "duplicate") and a later one is the duplicate', async () => {
    // A handler that takes a while, as a contact change can under load.
    h.gateway.router.inline(
      'slow-test-event',
      { msgType: 'event', event: 'slow_test_event' },
      () => new Promise((r) => setTimeout(r, 300)),
    );
    const xml = eventXml({ ...base, FromUserName: 'sys', MsgType: 'event', Event: 'slow_test_event' });
    const [a, b] = await Promise.all([post(h, xml), post(h, xml)]);
    expect([a.status, b.status].sort()).toEqual([200, 503]);
    expect((await post(h, xml)).status).toBe(200);
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    expect(metrics).toMatch(/outcome="in-progress"} 1/);
  });

  it('when a user sends a keyword, then the passive reply is encrypted and signed so that a decryptor accepts it', async () => {
    const res = await post(
      h,
      eventXml({ ...base, MsgType: 'text', Content: 'ping please', MsgId: '7300000000000000099', AgentID: '1000002' }),
    );
    expect(res.status).toBe(200);
    const envelope = parseCallbackXml(res.text) as Record<string, string>;
    expect(wecom.verifySignature(envelope.MsgSignature, envelope.TimeStamp, envelope.Nonce, envelope.Encrypt)).toBe(true);
    const reply = parseCallbackXml(wecom.decrypt(envelope.Encrypt));
    expect(reply).toMatchObject({ ToUserName: 'zhangsan', FromUserName: SIM_APP.corpId, MsgType: 'text', Content: 'pong to zhangsan' });
  });

  it('when no rule matches a message, then the answer is an empty 200', async () => {
    const res = await post(h, eventXml({ ...base, MsgType: 'text', Content: 'hello', MsgId: '7300000000000000100', AgentID: '1000002' }));
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });

  it('when a message makes a slow pattern run out of time, then the push is still acknowledged and handed on, with no reply', async () => {
    const started = Date.now();
    const res = await post(
      h,
      eventXml({ ...base, MsgType: 'text', Content: `${'a'.repeat(3_000)}!`, MsgId: '7300000000000000101', AgentID: '1000002' }),
    );
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(Date.now() - started).toBeLessThan(2_000);
    await eventually(() => seen.some((e) => e.fields.MsgId === '7300000000000000101') || undefined);
  });
});

describe('POST /wecom/callback with bad input', () => {
  let h: Harness;
  let seen: CallbackEvent[];
  beforeAll(async () => {
    h = await startHarness({ env: CALLBACK_ENV }); // the replay window as shipped: 300 s
    seen = capture(h);
  });
  afterAll(() => h.close());
  afterEach(() => jest.restoreAllMocks());

  const good = () =>
    encryptedPush(
      wecom,
      SIM_APP.corpId,
      eventXml({ ...base, MsgType: 'text', Content: 'x', MsgId: String(Date.now()), AgentID: '1000002' }),
    );
  const signed = (plaintext: string) => encryptedPush(wecom, SIM_APP.corpId, plaintext);
  const nested = (depth: number) => `<xml>${'<a>'.repeat(depth)}x${'</a>'.repeat(depth)}</xml>`;

  it.each([
    ['a wrong signature', () => ({ ...good(), query: `msg_signature=${'a'.repeat(40)}&timestamp=${nowSeconds()}&nonce=1` }), 401],
    ['missing parameters', () => ({ ...good(), query: 'timestamp=1' }), 400],
    ['a timestamp that is not Unix seconds', () => ({ ...good(), query: `msg_signature=${'a'.repeat(40)}&timestamp=soon&nonce=1` }), 400],
    ['an empty body', () => ({ ...good(), body: '' }), 400],
    ['a body that is not XML', () => ({ ...good(), body: 'not xml at all' }), 400],
    ['an envelope without Encrypt', () => ({ ...good(), body: '<xml><ToUserName>x</ToUserName></xml>' }), 400],
    // Never parsed: the entity is not the signed Encrypt.
    [
      'an unsigned envelope with a DTD and entities',
      () => ({ ...good(), body: '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><xml><Encrypt>&lol;</Encrypt></xml>' }),
      401,
    ],
    [
      'a signed plaintext with a DTD and entities',
      () => signed('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><xml><Content>&lol;</Content></xml>'),
      400,
    ],
    ['a signed plaintext that is not XML', () => signed('<xml><Content>unclosed</xml>'), 400],
    ['a signed plaintext with another root', () => signed('<root><MsgType>text</MsgType></root>'), 400],
    [
      'a timestamp 301 seconds old',
      () =>
        encryptedPush(
          wecom,
          SIM_APP.corpId,
          eventXml({ ...base, MsgType: 'text', Content: 'old', MsgId: '1', AgentID: '1' }),
          String(Math.floor(Date.now() / 1000) - 301),
        ),
      403,
    ],
    [
      'a timestamp 301 seconds ahead',
      () =>
        encryptedPush(
          wecom,
          SIM_APP.corpId,
          eventXml({ ...base, MsgType: 'text', Content: 'new', MsgId: '2', AgentID: '1' }),
          String(Math.floor(Date.now() / 1000) + 301),
        ),
      403,
    ],
  ])('when the push has %s, then it is refused and nothing is handled', async (_name, make, status) => {
    const res = await send(h, make());
    expect(res.status).toBe(status);
    expect(res.text).not.toMatch(/gatewayToken123|abcdefghijklmnop|stack/i);
  });

  it('when the ciphertext is for another corp (wrong ReceiveId), then 400', async () => {
    const other = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: 'wwsomeoneelse' });
    const push = encryptedPush(other, 'wwsomeoneelse', eventXml({ ...base, MsgType: 'text', Content: 'x', MsgId: '5', AgentID: '1' }));
    expect((await h.api.post(`/wecom/callback?${push.query}`).send(push.body)).status).toBe(400);
  });

  it('when the body is 100 KB (beyond the 64 KB a push can need), then 413', async () => {
    const push = good();
    const res = await send(h, { query: push.query, body: `<xml><Encrypt>${'A'.repeat(100_000)}</Encrypt></xml>` });
    expect(res.status).toBe(413);
  });

  it('when a validly signed push nests as deep as fits in a body, then 400 and the gateway stays up', async () => {
    // 6,000 levels is what 64 KB of base64 holds; test/unit/callback-xml.test.ts parses 100,000.
    const push = signed(nested(6_000));
    expect(push.body.length).toBeLessThan(64 * 1024);
    const res = await send(h, push);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('xml_malformed');
    expect((await h.api.get('/healthz')).status).toBe(200);
  });

  it('when an unsigned envelope is deep or huge, then 401 and no XML is parsed at all', async () => {
    const parse = jest.spyOn(xmlModule, 'parseCallbackXml');
    const query = `msg_signature=${'a'.repeat(40)}&timestamp=${nowSeconds()}&nonce=1`;
    for (const body of [
      `${'<a>'.repeat(20_000)}<Encrypt>QUJD</Encrypt>${'</a>'.repeat(20)}`,
      `<xml><Encrypt>${'QUJD'.repeat(15_000)}</Encrypt>${'<b x="1"/>'.repeat(400)}</xml>`,
    ]) {
      expect(body.length).toBeLessThan(64 * 1024);
      expect((await send(h, { query, body })).status).toBe(401);
    }
    expect(parse).not.toHaveBeenCalled();
  });

  it('when every bad push was refused, then the router saw none of them and the metrics name each kind', async () => {
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(0);
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    for (const outcome of [
      'rejected-bad_signature',
      'rejected-missing_parameters',
      'rejected-bad_timestamp',
      'rejected-xml_dtd_forbidden',
      'rejected-xml_malformed',
      'rejected-stale_timestamp',
      'rejected-receive_id_mismatch',
    ]) {
      expect(metrics).toContain(`outcome="${outcome}"`);
    }
    expect(await h.gateway.queues.get('inbound')!.count()).toBe(0);
  });
});

describe('callback set-up mistakes', () => {
  let h: Harness;
  const { logger, lines } = capturedLogs();
  const WRONG_TOKEN = 'notTheGatewaysToken9';
  const WRONG_KEY = 'WrongKey0123456789abcdefghijklmnopqrstuvwxy';
  beforeAll(async () => {
    h = await startHarness({ env: CALLBACK_ENV, logger });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    lines.length = 0;
  });

  /** The lines that explain a refusal (the access log's "request completed 4xx" is another). */
  const explained = () => lines.filter((l) => /^WeCom callback/.test(l.msg));
  const wrongToken = new CallbackCrypto({ token: WRONG_TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
  const wrongKey = new CallbackCrypto({ token: TOKEN, encodingAesKey: WRONG_KEY, receiveId: SIM_APP.corpId });
  const otherCorp = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: 'wwsomeoneelse01' });
  const verifyWith = (crypto: CallbackCrypto) => {
    const timestamp = nowSeconds();
    const echostr = crypto.encrypt('1616140317555161061');
    return h.api.get(
      `/wecom/callback?msg_signature=${crypto.signature(timestamp, '7', echostr)}` +
        `&timestamp=${timestamp}&nonce=7&echostr=${encodeURIComponent(echostr)}`,
    );
  };
  const pushWith = (crypto: CallbackCrypto) =>
    send(
      h,
      encryptedPush(
        crypto,
        SIM_APP.corpId,
        eventXml({ ...base, MsgType: 'text', Content: 'x', MsgId: String(Date.now()), AgentID: '1000002' }),
      ),
    );

  /** One explaining line for the request, at warn, with the request id, and no secret in any line. */
  function onlyLineFor(res: { headers: Record<string, string> }): Record<string, any> {
    const mine = explained().filter((l) => l.reqId === res.headers['x-request-id']);
    expect(mine).toHaveLength(1);
    expect(mine[0].level).toBe(40);
    const all = JSON.stringify(lines);
    for (const secret of [TOKEN, AES_KEY, WRONG_TOKEN, WRONG_KEY]) expect(all).not.toContain(secret);
    return mine[0];
  }

  it.each([
    ['the URL verification', () => verifyWith(wrongToken)],
    ['a push', () => pushWith(wrongToken)],
  ])('when %s is signed with another Token, then 401 and one warning says to check WECOM_CALLBACK_TOKEN', async (_what, request) => {
    const res = await request();
    expect(res.status).toBe(401);
    const line = onlyLineFor(res);
    expect(line.msg).toContain("check WECOM_CALLBACK_TOKEN (the Token in the app's 接收消息 settings)");
    expect(line).toMatchObject({ app: 'default', reason: 'bad_signature' });
  });

  it.each([
    ['the URL verification', () => verifyWith(wrongKey)],
    ['a push', () => pushWith(wrongKey)],
  ])(
    'when %s is encrypted with another EncodingAESKey, then 400 and one warning says to check WECOM_CALLBACK_AES_KEY, not the Token',
    async (_what, request) => {
      const res = await request();
      expect(res.status).toBe(400);
      const line = onlyLineFor(res);
      expect(line.msg).toContain('check WECOM_CALLBACK_AES_KEY (the EncodingAESKey');
      expect(line.msg).not.toContain('WECOM_CALLBACK_TOKEN');
    },
  );

  it.each([
    ['the URL verification', () => verifyWith(otherCorp)],
    ['a push', () => pushWith(otherCorp)],
  ])(
    'when %s decrypts but is for another corp id, then 400, the warning names that corp id and WECOM_CORP_ID, and the answer names neither',
    async (_what, request) => {
      const res = await request();
      expect(res.status).toBe(400);
      const line = onlyLineFor(res);
      expect(line.msg).toContain(`decrypted, but for corp id wwsomeoneelse01, not WECOM_CORP_ID (${SIM_APP.corpId})`);
      expect(line.msg).not.toMatch(/cannot decrypt/i);
      expect(line).toMatchObject({ reason: 'receive_id_mismatch', receivedCorpId: 'wwsomeoneelse01' });
      expect(res.text).not.toMatch(/wwsomeoneelse01|cannot decrypt/);
    },
  );

  it('when a verification is signed 10 minutes ago, then the warning says to check the clock and CALLBACK_MAX_SKEW_SECONDS', async () => {
    const res = await h.api.get(`/wecom/callback?${verification('42', String(Math.floor(Date.now() / 1000) - 600))}`);
    expect(res.status).toBe(403);
    expect(onlyLineFor(res).msg).toMatch(/clock.*CALLBACK_MAX_SKEW_SECONDS/);
  });

  it('when a push names an app with no callback, then the warning names the settings that give it one', async () => {
    const res = await h.api.post('/wecom/callback/nosuchapp?msg_signature=a&timestamp=1&nonce=2').send('<xml/>');
    expect(res.status).toBe(404);
    expect(onlyLineFor(res).msg).toContain('nosuchapp');
  });

  it('when the pushes were refused, then the metrics count each reason', async () => {
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    for (const outcome of ['rejected-bad_signature', 'rejected-receive_id_mismatch', 'rejected-stale_timestamp'])
      expect(metrics).toContain(`outcome="${outcome}"`);
    expect(metrics).toMatch(/outcome="rejected-bad_(padding|length)"/);
  });
});

describe('forwarding user messages to INBOUND_WEBHOOK_URL', () => {
  const SECRET = 'inbound-secret-0123456789';
  let h: Harness;
  let receiver: Server;
  let received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let mode: 'ok' | 'fail' | 'hang' = 'ok';

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (mode === 'hang') return; // never answers
        if (mode === 'fail') return void res.writeHead(500).end();
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const port = (receiver.address() as { port: number }).port;
    h = await startHarness({
      env: { ...CALLBACK_ENV, INBOUND_WEBHOOK_URL: `http://127.0.0.1:${port}/inbound`, INBOUND_WEBHOOK_SECRET: SECRET },
    });
  });
  afterAll(async () => {
    await h.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });
  beforeEach(() => {
    received = [];
    mode = 'ok';
  });

  it('when a user messages the app, then the receiver gets normalized JSON signed with HMAC', async () => {
    expect(
      (await post(h, eventXml({ ...base, MsgType: 'text', Content: '查看告警', MsgId: '7300000000000000200', AgentID: '1000002' }))).status,
    ).toBe(200);
    const [delivery] = await eventually(() => (received.length > 0 ? received : undefined));
    const body = JSON.parse(delivery.body);
    expect(body).toMatchObject({
      kind: 'message',
      msgType: 'text',
      fromUser: 'zhangsan',
      content: '查看告警',
      msgId: '7300000000000000200',
      agentId: '1000002',
    });
    expect(delivery.headers['x-gateway-signature']).toBe(
      signWebhook(SECRET, String(delivery.headers['x-gateway-timestamp']), delivery.body),
    );
  });

  it('when the receiver hangs, then WeCom still gets its answer well inside 5 seconds', async () => {
    mode = 'hang';
    const started = Date.now();
    const res = await post(
      h,
      eventXml({ ...base, MsgType: 'event', Event: 'click', EventKey: 'ack_all', AgentID: '1000002', CreateTime: String(Date.now()) }),
    );
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when the receiver keeps failing, then the delivery lands in the dead letters and a replay delivers it', async () => {
    mode = 'fail';
    await post(h, eventXml({ ...base, MsgType: 'text', Content: 'dead letter me', MsgId: '7300000000000000300', AgentID: '1000002' }));
    const letters = await eventually(async () => {
      const res = await h.api.get('/v1/inbound/dead-letters');
      const found = (res.body.deadLetters as { id: string; body: { content?: string } }[]).filter(
        (d) => d.body.content === 'dead letter me',
      );
      return found.length > 0 ? found : undefined;
    }, 20_000);
    mode = 'ok';
    const replay = await h.api.post(`/v1/inbound/dead-letters/${letters[0].id}/replay`);
    expect(replay.body).toEqual({ replayed: 1 });
    await eventually(() => received.some((r) => JSON.parse(r.body).content === 'dead letter me') || undefined);
  });
});

describe('callback IP allowlist', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ...CALLBACK_ENV, CALLBACK_IP_ALLOWLIST: 'wecom', TRUST_PROXY: 'loopback' } });
  });
  afterAll(() => h.close());

  it("when a push comes from one of getcallbackip's addresses, then it is accepted; from any other, 403 and nothing is handled", async () => {
    expect(h.sim.calls.some((c) => c.api === 'getcallbackip' && c.errcode === 0)).toBe(true);
    const fromWecom = encryptedPush(wecom, SIM_APP.corpId, eventXml({ ...base, MsgType: 'text', Content: 'a', MsgId: '1', AgentID: '1' }));
    expect((await h.api.post(`/wecom/callback?${fromWecom.query}`).send(fromWecom.body)).status).toBe(200);
    const elsewhere = encryptedPush(wecom, SIM_APP.corpId, eventXml({ ...base, MsgType: 'text', Content: 'b', MsgId: '2', AgentID: '1' }));
    const res = await h.api.post(`/wecom/callback?${elsewhere.query}`).set('X-Forwarded-For', '203.0.113.9').send(elsewhere.body);
    expect(res.status).toBe(403);
    await new Promise((r) => setTimeout(r, 100));
    expect(await h.gateway.queues.get('inbound')!.getJob('default_msg_2')).toBeUndefined();
  });
});
