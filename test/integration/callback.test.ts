import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallbackEvent } from '../../src/wecom/callback-event';
import { signWebhook } from '../../src/webhooks/webhook-outbox';
import { CallbackCrypto } from '../../src/wecom/callback-crypto';
import { parseCallbackXml } from '../../src/wecom/xml';
import { eventually, metricLines, SIM_APP, startHarness, type Harness } from '../support/harness';
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
  { ...base, MsgType: 'location', Location_X: '23.13', Location_Y: '113.26', Scale: '20', Label: 'Guangzhou', MsgId: '7300000000000000005', AgentID: '1000002' },
  { ...base, MsgType: 'link', Title: 't', Description: 'd', Url: 'https://x.example', PicUrl: 'https://p.example/2.png', MsgId: '7300000000000000006', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'click', EventKey: 'ack_all', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'view', EventKey: 'https://x.example', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'enter_agent', EventKey: '', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'LOCATION', Latitude: '23.1', Longitude: '113.2', Precision: '10', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'subscribe', AgentID: '1000002' },
  { ...base, MsgType: 'event', Event: 'template_card_event', EventKey: 'ack', TaskId: 'alert-42-ack', CardType: 'button_interaction', ResponseCode: 'rc1', AgentID: '1000002' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'create_user', UserID: 'wangwu', Name: '王五', Department: '1,2', MainDepartment: '1' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'update_user', UserID: 'zhangsan', NewUserID: 'zhangsan01', Department: '1,5' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'delete_user', UserID: 'lisi' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'create_party', Id: '7', Name: 'SRE', ParentId: '1', Order: '1' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'update_party', Id: '7', Name: 'SRE team' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'delete_party', Id: '7' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'update_tag', TagId: '3', AddUserItems: 'a,b', DelUserItems: 'c' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_external_contact', ChangeType: 'add_external_contact', UserID: 'sales01', ExternalUserID: 'wmAJ2GCAAAXtWyujaWJHDDGi0mACAAAA', State: 'expo2026', WelcomeCode: 'WELCOMECODE' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_external_contact', ChangeType: 'add_half_external_contact', UserID: 'sales01', ExternalUserID: 'wmB', State: 'expo2026', WelcomeCode: 'CODE2' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_external_contact', ChangeType: 'del_external_contact', UserID: 'sales01', ExternalUserID: 'wmB', Source: 'DELETE_BY_TRANSFER' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_external_contact', ChangeType: 'del_follow_user', UserID: 'sales01', ExternalUserID: 'wmC' },
  { ...base, FromUserName: 'sys', MsgType: 'event', Event: 'batch_job_result', AgentID: '1000002' },
];

describe('GET /wecom/callback (URL verification)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: CALLBACK_ENV,
      config: (c) => ({
        ...c,
        apps: [
          ...c.apps,
          ...vectors
            .filter((v) => v.echostr)
            .map((v, i) => ({ name: `sample${i}`, corpId: v.receiveId, agentId: 1000002 + i, secret: 's', callback: { token: v.token, aesKey: v.encodingAESKey } })),
        ],
      }),
    });
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

  it('when echostr arrives with a literal +, then it is kept as + (not a space)', async () => {
    const echostr = wecom.encrypt('1234567890');
    const withPlus = echostr.includes('+') ? echostr : undefined;
    // Find a ciphertext containing "+" so the case is really exercised.
    let encrypted = withPlus;
    for (let i = 0; !encrypted && i < 200; i++) {
      const candidate = wecom.encrypt(`echo-${i}`);
      if (candidate.includes('+')) encrypted = candidate;
    }
    const timestamp = '1700000000';
    const nonce = '42';
    const signature = wecom.signature(timestamp, nonce, encrypted!);
    const res = await h.api.get(`/wecom/callback?msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}&echostr=${encrypted!.replace(/\//g, '%2F').replace(/=/g, '%3D')}`);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^(1234567890|echo-\d+)$/);
  });

  it('when the signature is wrong or a parameter is missing, then 4xx and no plaintext', async () => {
    const v = vectors.find((x) => x.echostr)!;
    const bad = await h.api.get(`/wecom/callback/sample0?msg_signature=${'0'.repeat(40)}&timestamp=${v.timestamp}&nonce=${v.nonce}&echostr=${encodeURIComponent(v.echostr)}`);
    expect(bad.status).toBe(401);
    expect(bad.text).not.toContain(v.expectedPlaintext);
    expect((await h.api.get(`/wecom/callback/sample0?timestamp=1&nonce=2`)).status).toBe(400);
    expect((await h.api.get(`/wecom/callback/nosuchapp?msg_signature=a&timestamp=1&nonce=2&echostr=x`)).status).toBe(404);
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
        apps: [...c.apps, { name: 'sample', corpId: vectors[1].receiveId, agentId: 218, secret: 's', callback: { token: vectors[1].token, aesKey: vectors[1].encodingAESKey } }],
        callback: { ...c.callback, autoReplies: [{ match: 'keyword', pattern: 'ping', reply: 'pong to {{fromUser}}' }] },
      }),
    });
    seen = capture(h);
  });
  afterAll(() => h.close());
  beforeEach(() => {
    seen.length = 0;
  });

  it('when the published sample push arrives, then it is acknowledged and its message reaches the router', async () => {
    const v = vectors[1];
    const res = await h.api.post(`/wecom/callback/sample?msg_signature=${v.msgSignature}&timestamp=${v.timestamp}&nonce=${v.nonce}`).set('content-type', 'text/xml').send(v.postData);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    const [event] = await eventually(() => (seen.length > 0 ? seen : undefined));
    expect(event.fields).toMatchObject({ MsgType: 'text', Content: 'hello', MsgId: '4561255354251345929', AgentID: '218' });
  });

  it('when each push shape of the reference arrives, then each reaches the router once with its fields', async () => {
    for (const fields of EVENTS) expect((await post(h, eventXml(fields))).status).toBe(200);
    await eventually(() => seen.length >= EVENTS.length || undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(EVENTS.length);
    for (const fields of EVENTS) {
      const match = seen.find((e) => e.fields.MsgType === fields.MsgType && e.fields.Event === fields.Event && e.fields.ChangeType === fields.ChangeType);
      expect(match?.fields).toEqual(fields);
    }
  });

  it('when WeCom repeats a push 3 times, then it is handled once', async () => {
    const xml = eventXml({ ...base, FromUserName: 'sys', MsgType: 'event', Event: 'change_contact', ChangeType: 'delete_user', UserID: 'repeat-me' });
    // WeCom re-encrypts each retry: same plaintext, new random prefix, new signature.
    for (let i = 0; i < 3; i++) expect((await post(h, xml)).status).toBe(200);
    await eventually(() => seen.length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((e) => e.fields.UserID === 'repeat-me')).toHaveLength(1);
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    expect(metrics).toMatch(/outcome="duplicate"} 2/);
  });

  it('when WeCom repeats a push while its first delivery is still being recorded, then the repeat gets 503 (not "duplicate") and a later one is the duplicate', async () => {
    // A handler that takes a while, as a contact change can under load.
    h.gateway.router.inline('slow-test-event', { msgType: 'event', event: 'slow_test_event' }, () => new Promise((r) => setTimeout(r, 300)));
    const xml = eventXml({ ...base, FromUserName: 'sys', MsgType: 'event', Event: 'slow_test_event' });
    const [a, b] = await Promise.all([post(h, xml), post(h, xml)]);
    expect([a.status, b.status].sort()).toEqual([200, 503]);
    expect((await post(h, xml)).status).toBe(200);
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    expect(metrics).toMatch(/outcome="in-progress"} 1/);
  });

  it('when a user sends a keyword, then the passive reply is encrypted and signed so that a decryptor accepts it', async () => {
    const res = await post(h, eventXml({ ...base, MsgType: 'text', Content: 'ping please', MsgId: '7300000000000000099', AgentID: '1000002' }));
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
});

describe('POST /wecom/callback with bad input', () => {
  let h: Harness;
  let seen: CallbackEvent[];
  beforeAll(async () => {
    h = await startHarness({ env: { ...CALLBACK_ENV, CALLBACK_MAX_SKEW_SECONDS: '300' } });
    seen = capture(h);
  });
  afterAll(() => h.close());

  const good = () => encryptedPush(wecom, SIM_APP.corpId, eventXml({ ...base, MsgType: 'text', Content: 'x', MsgId: String(Date.now()), AgentID: '1000002' }));

  it.each([
    ['a wrong signature', () => ({ ...good(), query: `msg_signature=${'a'.repeat(40)}&timestamp=${Math.floor(Date.now() / 1000)}&nonce=1` }), 401],
    ['missing parameters', () => ({ ...good(), query: 'timestamp=1' }), 400],
    ['an empty body', () => ({ ...good(), body: '' }), 400],
    ['a body that is not XML', () => ({ ...good(), body: 'not xml at all' }), 400],
    ['an envelope without Encrypt', () => ({ ...good(), body: '<xml><ToUserName>x</ToUserName></xml>' }), 400],
    ['XML with a DTD and entities', () => ({ ...good(), body: '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><xml><Encrypt>&lol;</Encrypt></xml>' }), 400],
    ['a timestamp an hour old', () => {
      const push = encryptedPush(wecom, SIM_APP.corpId, eventXml({ ...base, MsgType: 'text', Content: 'old', MsgId: '1', AgentID: '1' }), String(Math.floor(Date.now() / 1000) - 3600));
      return push;
    }, 403],
  ])('when the push has %s, then it is refused and nothing is handled', async (_name, make, status) => {
    const push = make();
    const res = await h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body);
    expect(res.status).toBe(status);
    expect(res.text).not.toMatch(/gatewayToken123|abcdefghijklmnop|stack/i);
  });

  it('when the ciphertext is for another corp (wrong ReceiveId), then 400', async () => {
    const other = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: 'wwsomeoneelse' });
    const push = encryptedPush(other, 'wwsomeoneelse', eventXml({ ...base, MsgType: 'text', Content: 'x', MsgId: '5', AgentID: '1' }));
    expect((await h.api.post(`/wecom/callback?${push.query}`).send(push.body)).status).toBe(400);
  });

  it('when the body is oversized, then 413', async () => {
    const push = good();
    const res = await h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(`<xml><Encrypt>${'A'.repeat(300_000)}</Encrypt></xml>`);
    expect(res.status).toBe(413);
  });

  it('when every bad push was refused, then the router saw none of them and the metrics name each kind', async () => {
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(0);
    const metrics = await metricLines(h.api, 'wecom_gateway_callbacks_total');
    for (const outcome of ['rejected-bad_signature', 'rejected-missing_parameters', 'rejected-xml_dtd_forbidden', 'rejected-stale_timestamp', 'rejected-receive_id_mismatch']) expect(metrics).toContain(`outcome="${outcome}"`);
    expect(await h.gateway.queues.get('inbound')!.count()).toBe(0);
  });

  it('when the URL is verified with an old timestamp, then the replay window does not apply', async () => {
    const echostr = wecom.encrypt('42424242');
    const signature = wecom.signature('1000', '7', echostr);
    const res = await h.api.get(`/wecom/callback?msg_signature=${signature}&timestamp=1000&nonce=7&echostr=${encodeURIComponent(echostr)}`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('42424242');
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
    h = await startHarness({ env: { ...CALLBACK_ENV, INBOUND_WEBHOOK_URL: `http://127.0.0.1:${port}/inbound`, INBOUND_WEBHOOK_SECRET: SECRET } });
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
    expect((await post(h, eventXml({ ...base, MsgType: 'text', Content: '查看告警', MsgId: '7300000000000000200', AgentID: '1000002' }))).status).toBe(200);
    const [delivery] = await eventually(() => (received.length > 0 ? received : undefined));
    const body = JSON.parse(delivery.body);
    expect(body).toMatchObject({ kind: 'message', msgType: 'text', fromUser: 'zhangsan', content: '查看告警', msgId: '7300000000000000200', agentId: '1000002' });
    expect(delivery.headers['x-gateway-signature']).toBe(signWebhook(SECRET, String(delivery.headers['x-gateway-timestamp']), delivery.body));
  });

  it('when the receiver hangs, then WeCom still gets its answer well inside 5 seconds', async () => {
    mode = 'hang';
    const started = Date.now();
    const res = await post(h, eventXml({ ...base, MsgType: 'event', Event: 'click', EventKey: 'ack_all', AgentID: '1000002', CreateTime: String(Date.now()) }));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when the receiver keeps failing, then the delivery lands in the dead letters and a replay delivers it', async () => {
    mode = 'fail';
    await post(h, eventXml({ ...base, MsgType: 'text', Content: 'dead letter me', MsgId: '7300000000000000300', AgentID: '1000002' }));
    const letters = await eventually(async () => {
      const res = await h.api.get('/v1/inbound/dead-letters');
      const found = (res.body.deadLetters as { id: string; body: { content?: string } }[]).filter((d) => d.body.content === 'dead letter me');
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
