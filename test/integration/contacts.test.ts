import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Redis } from 'ioredis';
import type { Config } from '../../src/config/config';
import { redisKeys } from '../../src/redis/keys';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/gateway';
import { signWebhook } from '../../src/webhooks/webhook-outbox';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { WecomSimulator } from '../../src/simulator/simulator';
import { eventually, SIM_APP, testConfig, UNLIMITED_SIM } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

const TOKEN = 'contactsToken1';
const AES_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg';
const SINK_SECRET = 'sink-secret-0123456789';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });

/** A downstream system: records what it accepts; can be told to fail or go away. */
class Sink {
  received: { body: Record<string, any>; signature?: string; timestamp?: string; raw: string }[] = [];
  failNext = 0;
  down = false;
  refuse = false;
  private server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (this.down) return void res.writeHead(503).end();
      if (this.refuse) return void res.writeHead(400).end('schema mismatch');
      if (this.failNext > 0) {
        this.failNext--;
        return void res.writeHead(500).end();
      }
      this.received.push({
        body: JSON.parse(raw),
        signature: req.headers['x-gateway-signature'] as string,
        timestamp: req.headers['x-gateway-timestamp'] as string,
        raw,
      });
      res.writeHead(200).end();
    });
  });
  url = '';
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/changes`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

let createTime = 1_700_000_000;
const change = (fields: Record<string, string>) =>
  eventXml({
    ToUserName: SIM_APP.corpId,
    FromUserName: 'sys',
    CreateTime: String(createTime++),
    MsgType: 'event',
    Event: 'change_contact',
    ...fields,
  });

describe('contact-change sync', () => {
  let sim: WecomSimulator;
  let sink: Sink;
  let gateway: Gateway;
  let config: Config;
  let redis: Redis;
  let api: ReturnType<typeof request>;
  const logLines: string[] = [];

  beforeAll(async () => {
    sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    sink = new Sink();
    await sink.start();
    const logStream = new Writable({
      write(chunk, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    config = testConfig(sim.url, {
      WECOM_CALLBACK_TOKEN: TOKEN,
      WECOM_CALLBACK_AES_KEY: AES_KEY,
      CONTACT_SYNC_WEBHOOK_URL: sink.url,
      CONTACT_SYNC_WEBHOOK_SECRET: SINK_SECRET,
      CONTACTS_PII_KEYS: 'hr-key-0001-long',
      GATEWAY_API_KEYS: 'hr-key-0001-long,ops-key-0001-long',
      CONTACTS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      LOG_LEVEL: 'debug',
    });
    gateway = await createGateway(config, { logger: pino({ level: 'debug' }, logStream) });
    api = request(gateway.app);
    redis = new Redis(process.env.TEST_REDIS_URL!);
  });
  afterAll(async () => {
    await gateway.close();
    await redis.quit();
    await sink.stop();
    await sim.stop();
  });

  const push = async (xml: string) => {
    const p = encryptedPush(wecom, SIM_APP.corpId, xml);
    const res = await api.post(`/wecom/callback?${p.query}`).set('content-type', 'text/xml').send(p.body);
    expect(res.status).toBe(200);
  };
  const as = (key: string) => ({
    get: (path: string) => api.get(path).set('Authorization', `Bearer ${key}`),
    post: (path: string) => api.post(path).set('Authorization', `Bearer ${key}`),
  });

  it('when every change type arrives through encrypted callbacks, then the mirror follows and the sink gets one normalized change each, in order', async () => {
    const before = sink.received.length;
    await push(change({ ChangeType: 'create_party', Id: '7', Name: 'SRE', ParentId: '1', Order: '2' }));
    await push(
      change({
        ChangeType: 'create_user',
        UserID: 'wangwu',
        Name: '王五',
        Department: '1,7',
        MainDepartment: '7',
        IsLeaderInDept: '0,1',
        Mobile: '13800001234',
        Email: 'wangwu@example.com',
        Position: 'SRE',
        Gender: '1',
        Status: '1',
      }),
    );
    await push(change({ ChangeType: 'update_user', UserID: 'wangwu', Position: 'Lead SRE' }));
    await push(change({ ChangeType: 'update_party', Id: '7', Name: 'SRE team' }));
    await push(change({ ChangeType: 'update_tag', TagId: '3', AddUserItems: 'wangwu,lisi', AddPartyItems: '7' }));
    await push(change({ ChangeType: 'update_tag', TagId: '3', DelUserItems: 'lisi' }));
    await push(change({ ChangeType: 'create_user', UserID: 'temp01', Name: 'Temp' }));
    await push(change({ ChangeType: 'delete_user', UserID: 'temp01' }));
    await push(change({ ChangeType: 'create_party', Id: '8', Name: 'Gone', ParentId: '1' }));
    await push(change({ ChangeType: 'delete_party', Id: '8' }));
    const got = await eventually(() => (sink.received.length - before >= 10 ? sink.received.slice(before) : undefined));
    expect(got.map((r) => r.body.event)).toEqual([
      'department.created',
      'user.created',
      'user.updated',
      'department.updated',
      'tag.updated',
      'tag.updated',
      'user.created',
      'user.deleted',
      'department.created',
      'department.deleted',
    ]);
    const updated = got[2].body;
    expect(updated).toMatchObject({
      type: 'user',
      action: 'updated',
      before: { position: 'SRE' },
      after: {
        userId: 'wangwu',
        name: '王五',
        position: 'Lead SRE',
        departments: [1, 7],
        leaderInDepartments: [7],
        mobile: '13800001234',
        status: 'active',
        gender: 'male',
      },
    });
    expect(got[5].body.after).toMatchObject({ tagId: 3, users: ['wangwu'], parties: [7], removed: { users: ['lisi'] } });
    for (const r of got) expect(r.signature).toBe(signWebhook(SINK_SECRET, r.timestamp!, r.raw));
    expect(new Set(got.map((r) => r.body.id)).size).toBe(10);

    const user = await as('ops-key-0001-long').get('/v1/contacts/users/wangwu');
    expect(user.body).toMatchObject({ userId: 'wangwu', position: 'Lead SRE', mobile: '138****34', email: 'w***@example.com' });
    const unmasked = await as('hr-key-0001-long').get('/v1/contacts/users/wangwu');
    expect(unmasked.body).toMatchObject({ mobile: '13800001234', email: 'wangwu@example.com' });
    expect((await as('ops-key-0001-long').get('/v1/contacts/users/temp01')).status).toBe(404);
    const departments = await as('ops-key-0001-long').get('/v1/contacts/departments');
    expect(departments.body.departments).toEqual([{ id: 7, name: 'SRE team', parentId: 1, order: 2 }]);
  });

  it('when a user is renamed, then the mirror moves the record and the change names old and new ids', async () => {
    await push(change({ ChangeType: 'create_user', UserID: 'zhaoliu', Name: '赵六', Department: '1' }));
    await push(change({ ChangeType: 'update_user', UserID: 'zhaoliu', NewUserID: 'zhaoliu01', Department: '1,5', MainDepartment: '5' }));
    const rename = await eventually(() => sink.received.find((r) => r.body.after?.newUserId === 'zhaoliu01'));
    expect(rename.body).toMatchObject({
      event: 'user.updated',
      before: { userId: 'zhaoliu' },
      after: { userId: 'zhaoliu01', previousUserId: 'zhaoliu', name: '赵六', departments: [1, 5] },
    });
    expect((await as('ops-key-0001-long').get('/v1/contacts/users/zhaoliu')).status).toBe(404);
    expect((await as('ops-key-0001-long').get('/v1/contacts/users/zhaoliu01')).body).toMatchObject({ userId: 'zhaoliu01', name: '赵六' });
  });

  it('when WeCom repeats a push, then one change is recorded and delivered', async () => {
    const xml = change({ ChangeType: 'update_user', UserID: 'wangwu', Alias: 'ww' });
    await push(xml);
    await push(xml);
    await push(xml);
    await eventually(() => sink.received.some((r) => r.body.after?.alias === 'ww') || undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.received.filter((r) => r.body.after?.alias === 'ww')).toHaveLength(1);
  });

  it('when an update arrives for a user never seen, then the record is created from what it carries; unknown change types are recorded, not fatal', async () => {
    await push(change({ ChangeType: 'update_user', UserID: 'stranger', Position: 'Guest' }));
    await push(change({ ChangeType: 'rename_everything', UserID: 'x' }));
    await eventually(async () => (await as('ops-key-0001-long').get('/v1/contacts/users/stranger')).status === 200 || undefined);
    const feed = await eventually(async () => {
      const res = await as('ops-key-0001-long').get('/v1/contacts/changes?since=0&limit=1000');
      return res.body.changes.some((c: { event: string }) => c.event === 'unknown') ? res.body : undefined;
    });
    expect(feed.changes.find((c: { event: string }) => c.event === 'unknown')).toMatchObject({
      reason: 'unknown ChangeType rename_everything',
    });
  });

  it('when the sink fails 5 times then recovers, then it receives every change in order', async () => {
    const before = sink.received.length;
    sink.failNext = 5;
    for (let i = 0; i < 5; i++) await push(change({ ChangeType: 'update_user', UserID: 'wangwu', Telephone: `010-${i}` }));
    const phoneChanges = () => sink.received.slice(before).filter((r) => r.body.after?.telephone);
    const got = await eventually(() => (phoneChanges().length >= 5 ? phoneChanges() : undefined));
    expect(got.map((r) => r.body.after.telephone)).toEqual(['010-0', '010-1', '010-2', '010-3', '010-4']);
  });

  it('when the sink is down while 1000 changes arrive, then it receives all 1000 in order once it is back', async () => {
    const before = sink.received.length;
    sink.down = true;
    for (let i = 0; i < 1000; i++) await push(change({ ChangeType: 'update_party', Id: '7', Order: String(i) }));
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.received.length).toBe(before);
    sink.down = false;
    const back = Date.now();
    const got = await eventually(() => (sink.received.length - before >= 1000 ? sink.received.slice(before) : undefined), 60_000);
    const seconds = (Date.now() - back) / 1000;
    process.stdout.write(
      `contact sync: sink back after 1000 changes; all delivered in order in ${seconds.toFixed(1)} s ` +
        `(${Math.round(1000 / seconds)} changes/s), oldest waited ${((Date.now() - Date.parse(got[0].body.at)) / 1000).toFixed(1)} s\n`,
    );
    expect(got.map((r) => r.body.after.order)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  }, 90_000);

  it('when changes are read through the feed, then a cursor pages through them and PII is masked for keys without the right', async () => {
    const first = await as('ops-key-0001-long').get('/v1/contacts/changes?since=0&limit=2');
    expect(first.body.changes).toHaveLength(2);
    const next = await as('ops-key-0001-long').get(`/v1/contacts/changes?since=${first.body.next}&limit=2`);
    expect(next.body.changes[0].cursor > first.body.next).toBe(true);
    const created = (await as('ops-key-0001-long').get('/v1/contacts/changes?since=0&limit=1000')).body.changes.find(
      (c: { event: string; after?: { userId?: string } }) => c.event === 'user.created' && c.after?.userId === 'wangwu',
    );
    expect(created.after.mobile).toBe('138****34');
    expect(created.raw).toBeUndefined();
  });

  it('when the sink refuses a change (4xx), then it is set aside after 3 attempts, the line moves on, and a replay delivers it', async () => {
    sink.refuse = true;
    await push(change({ ChangeType: 'update_user', UserID: 'wangwu', Alias: 'refused-once' }));
    const letters = await eventually(async () => {
      const res = await as('ops-key-0001-long').get('/v1/contacts/dead-letters');
      return res.body.deadLetters.length > 0 ? res.body.deadLetters : undefined;
    });
    expect(letters[0]).toMatchObject({ sink: 'default', attempts: 3, error: 'HTTP 400', change: { event: 'user.updated' } });
    sink.refuse = false;
    await push(change({ ChangeType: 'update_user', UserID: 'wangwu', Alias: 'after-refusal' }));
    await eventually(() => sink.received.some((r) => r.body.after?.alias === 'after-refusal') || undefined);
    expect((await as('ops-key-0001-long').post('/v1/contacts/dead-letters/no-such-change/replay')).status).toBe(404);
    expect((await as('ops-key-0001-long').post(`/v1/contacts/dead-letters/${letters[0].change.id}/replay`)).body).toEqual({ replayed: 1 });
    expect((await as('ops-key-0001-long').post('/v1/contacts/dead-letters/replay')).body).toEqual({ replayed: 0 });
    await eventually(() => sink.received.some((r) => r.body.after?.alias === 'refused-once') || undefined);
    expect((await as('ops-key-0001-long').get('/v1/contacts/dead-letters')).body.deadLetters).toEqual([]);
  });

  it('when CONTACTS_ENCRYPTION_KEY is set, then Redis holds the mirror and the feed sealed, not in clear', async () => {
    const keys = redisKeys(config.redis.prefix).contacts;
    const stored = await redis.get(keys.user('wangwu'));
    expect(stored).toMatch(/^gcm1:/);
    expect(stored).not.toContain('13800001234');
    const [[, fields]] = await redis.xrange(keys.feed, '-', '+', 'COUNT', 1);
    expect(fields[1]).toMatch(/^gcm1:/);
  });

  it('when anything was logged, then no mobile, email or name appeared in the logs', () => {
    const logs = logLines.join('');
    expect(logs).toContain('contact change recorded');
    expect(logs).not.toContain('13800001234');
    expect(logs).not.toContain('wangwu@example.com');
    expect(logs).not.toContain('王五');
  });
});
