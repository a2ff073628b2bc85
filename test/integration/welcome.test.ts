import { redisKeys } from '../../src/redis/keys';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { WecomSimulator } from '../../src/simulator/simulator';
import { TokenStore } from '../../src/wecom/token-store';
import { WecomTransport } from '../../src/wecom/transport';
import { WecomApi } from '../../src/wecom/wecom-api';
import { Activities, buildActivity } from '../../src/welcome/activities';
import { ContactWays } from '../../src/welcome/contact-ways';
import { EmployeePool } from '../../src/welcome/employee-pool';
import { alert, eventually, SIM_APP, startHarness, TEMPLATES_DIR, uniquePrefix, type Harness } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

const TOKEN = 'welcomeToken1';
const AES_KEY = 'WelcomeKey0123456789abcdefghijklmnopqrstuvw';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });

/**
 * The shipped templates with the sandbox's expo demo as a real activity (and the
 * fallback), plus a small campaign whose limits tests can reach.
 */
function templatesWithCampaign(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgw-welcome-'));
  cpSync(TEMPLATES_DIR, dir, { recursive: true });
  mkdirSync(join(dir, 'welcome'), { recursive: true });
  writeFileSync(
    join(dir, 'welcome', 'expo2026.yaml'),
    `${readFileSync(join(TEMPLATES_DIR, 'sandbox', 'welcome', 'expo2026.yaml'), 'utf8')}fallback: true\n`,
  );
  writeFileSync(
    join(dir, 'welcome', 'spring.yaml'),
    `activity: spring
state: spring2026
welcome:
  text: "春季活动 {{employee.userId}} 为您服务"
  attachments:
    - msgtype: miniprogram
      miniprogram: { title: 商城, pic_media_id: MEDIA1, appid: wx8bd80126147dfAAA, page: "/index?c={{customer.externalUserId}}" }
tags: [etSpring]
employees:
  - { userId: clerk01, dailyLimit: 2, totalLimit: 3 }
  - { userId: clerk02, dailyLimit: 2, totalLimit: 100 }
`,
  );
  return dir;
}

let createTime = 1_700_000_000;
const addEvent = (fields: Record<string, string>) =>
  eventXml({
    ToUserName: SIM_APP.corpId,
    FromUserName: 'sys',
    CreateTime: String(createTime++),
    MsgType: 'event',
    Event: 'change_external_contact',
    ChangeType: 'add_external_contact',
    ...fields,
  });

describe('new-customer welcome', () => {
  let h: Harness;
  let templatesDir: string;

  beforeAll(async () => {
    templatesDir = templatesWithCampaign();
    h = await startHarness({ env: { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY, TEMPLATES_DIR: templatesDir } });
  });
  afterAll(async () => {
    await h.close();
    rmSync(templatesDir, { recursive: true, force: true });
  });

  const push = async (xml: string) => {
    const p = encryptedPush(wecom, SIM_APP.corpId, xml);
    const res = await h.api.post(`/wecom/callback?${p.query}`).set('content-type', 'text/xml').send(p.body);
    expect(res.status).toBe(200);
  };
  const outcomes = async () => (await h.api.get('/v1/welcome/outcomes?limit=1000')).body.outcomes as Record<string, any>[];
  const poolOf = async (userId: string) =>
    ((await h.api.get('/v1/welcome/pool')).body.employees as Record<string, any>[]).find((e) => e.userId === userId);

  it("when a customer scans the expo QR code, then the expo welcome is sent with the push's code within a second, the customer is tagged and the add counted", async () => {
    const code = h.sim.issueWelcomeCode();
    const started = Date.now();
    await push(addEvent({ UserID: 'sales01', ExternalUserID: 'wmCustomer001', State: 'expo2026', WelcomeCode: code }));
    const welcome = await eventually(() => h.sim.welcomes.find((w) => w.welcomeCode === code));
    expect(welcome.at - started).toBeLessThan(1_000);
    expect(welcome.body).toMatchObject({
      welcome_code: code,
      text: { content: expect.stringContaining('sales01') },
      attachments: [{ msgtype: 'link', link: { title: '展会专享优惠券', url: 'https://shop.example.com/coupon/expo2026?from=sales01' } }],
    });
    const mark = await eventually(() => h.sim.tagMarks.find((m) => m.external_userid === 'wmCustomer001'));
    expect(mark).toEqual({ userid: 'sales01', external_userid: 'wmCustomer001', add_tag: ['etExpo2026'] });
    expect(await poolOf('sales01')).toMatchObject({ addsToday: 1, totalCustomers: 1, inPool: true });
    expect((await outcomes())[0]).toMatchObject({ outcome: 'sent', activity: 'expo2026', employee: 'sales01' });
  });

  it('when WeCom repeats the push, then the welcome is sent once and the add counted once', async () => {
    const code = h.sim.issueWelcomeCode();
    const xml = addEvent({ UserID: 'sales02', ExternalUserID: 'wmCustomer002', State: 'expo2026', WelcomeCode: code });
    await push(xml);
    await push(xml);
    await push(xml);
    await eventually(() => h.sim.welcomes.find((w) => w.welcomeCode === code));
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sim.welcomes.filter((w) => w.welcomeCode === code)).toHaveLength(1);
    expect(h.sim.calls.filter((c) => c.api === 'externalcontact/send_welcome_msg' && c.errcode !== 0)).toHaveLength(0);
    expect(await poolOf('sales02')).toMatchObject({ addsToday: 1 });
  });

  it('when a half contact arrives, then nothing is sent but the customer is tagged and counted, with the reason recorded', async () => {
    const code = h.sim.issueWelcomeCode();
    await push(
      addEvent({
        ChangeType: 'add_half_external_contact',
        UserID: 'sales02',
        ExternalUserID: 'wmHalf01',
        State: 'expo2026',
        WelcomeCode: code,
      }),
    );
    const outcome = await eventually(async () => (await outcomes()).find((o) => o.customer === 'wmHalf01'));
    expect(outcome).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('half contact') });
    await eventually(() => h.sim.tagMarks.find((m) => m.external_userid === 'wmHalf01'));
    expect(h.sim.welcomes.find((w) => w.welcomeCode === code)).toBeUndefined();
  });

  it('when the push has no WelcomeCode, then nothing is sent and the reason says why', async () => {
    await push(addEvent({ UserID: 'sales01', ExternalUserID: 'wmNoCode', State: 'expo2026' }));
    const outcome = await eventually(async () => (await outcomes()).find((o) => o.customer === 'wmNoCode'));
    expect(outcome).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('no WelcomeCode') });
  });

  it("when the State is no activity's, then the fallback activity welcomes the customer, without its tags", async () => {
    const code = h.sim.issueWelcomeCode();
    await push(addEvent({ UserID: 'sales01', ExternalUserID: 'wmStranger', State: 'someone-elses-code', WelcomeCode: code }));
    const welcome = await eventually(() => h.sim.welcomes.find((w) => w.welcomeCode === code));
    expect(welcome.body).toMatchObject({ attachments: [{ msgtype: 'link' }] });
    expect((await outcomes()).find((o) => o.customer === 'wmStranger')).toMatchObject({
      outcome: 'sent',
      activity: 'expo2026',
      reason: expect.stringContaining('no tags'),
    });
    // The campaign's tags are for customers of the campaign: a stranger is not marked.
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sim.tagMarks.filter((m) => m.external_userid === 'wmStranger')).toEqual([]);
  });

  it('when the employee serves no activity, then the customer is welcomed and the outcome says the employee is outside the pool', async () => {
    const code = h.sim.issueWelcomeCode();
    await push(addEvent({ UserID: 'intern07', ExternalUserID: 'wmIntern', State: 'expo2026', WelcomeCode: code }));
    const outcome = await eventually(async () => (await outcomes()).find((o) => o.customer === 'wmIntern'));
    expect(outcome).toMatchObject({
      outcome: 'sent',
      activity: 'expo2026',
      reason: expect.stringContaining('intern07 is not among expo2026'),
    });
  });

  it('when the code has expired at WeCom, then the errcode is recorded and it is not retried', async () => {
    await push(addEvent({ UserID: 'sales01', ExternalUserID: 'wmLate', State: 'expo2026', WelcomeCode: 'never-issued-code' }));
    const outcome = await eventually(async () => (await outcomes()).find((o) => o.customer === 'wmLate'));
    expect(outcome).toMatchObject({ outcome: 'failed', errcode: 41050 });
    await new Promise((r) => setTimeout(r, 700));
    expect(h.sim.calls.filter((c) => c.api === 'externalcontact/send_welcome_msg' && c.errcode === 41050)).toHaveLength(1);
  });

  it('when WeCom is busy once (-1), then the welcome is retried inside the window and sent', async () => {
    h.sim.failNext(1, { errcode: -1 }, 'externalcontact/send_welcome_msg');
    const code = h.sim.issueWelcomeCode();
    const callsBefore = h.sim.calls.length;
    await push(addEvent({ UserID: 'sales02', ExternalUserID: 'wmBusy', State: 'expo2026', WelcomeCode: code }));
    await eventually(() => h.sim.welcomes.find((w) => w.welcomeCode === code), 5_000);
    const welcomeCalls = h.sim.calls.slice(callsBefore).filter((c) => c.api === 'externalcontact/send_welcome_msg');
    expect(welcomeCalls.map((c) => c.errcode)).toEqual([-1, 0]);
    const outcome = await eventually(async () => (await outcomes()).find((o) => o.customer === 'wmBusy'));
    expect(outcome).toMatchObject({ outcome: 'sent', activity: 'expo2026' });
  });

  it('when contact-me codes are asked for, then the least-loaded employee with room gets one, reused while they stay eligible', async () => {
    const first = await h.api.post('/v1/contact-ways').send({ activity: 'spring' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      activity: 'spring',
      state: 'spring2026',
      employee: 'clerk01',
      reused: false,
      qrCode: expect.stringMatching(/^http/),
    });
    expect(h.sim.contactWays.get(first.body.configId)?.body).toMatchObject({
      type: 1,
      scene: 2,
      state: 'spring2026',
      user: ['clerk01'],
      skip_verify: true,
    });
    const again = await h.api.post('/v1/contact-ways').send({ activity: 'spring' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ configId: first.body.configId, reused: true });
    expect((await h.api.post('/v1/contact-ways').send({ activity: 'nope' })).status).toBe(404);
    expect((await h.api.post('/v1/contact-ways').send({})).status).toBe(400);
    const listed = await h.api.get('/v1/welcome/activities');
    expect(listed.body.activities.find((a: { activity: string }) => a.activity === 'spring')).toMatchObject({
      state: 'spring2026',
      tags: ['etSpring'],
      contactWays: [expect.objectContaining({ employee: 'clerk01' })],
    });
  });

  it('when several ask for a code at once, then they all get the same one and no orphan is left at WeCom', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => h.api.post('/v1/contact-ways').send({ activity: 'expo2026' })));
    const ids = new Set(answers.map((a) => a.body.configId as string));
    expect(ids.size).toBe(1);
    const live = [...h.sim.contactWays.values()].filter((w) => (w.body as { state?: string }).state === 'expo2026' && !w.deleted);
    expect(live.map((w) => w.configId)).toEqual([...ids]);
  });

  it('when an employee reaches the daily limit, then they leave the pool, their code is retired and new codes go to a colleague; none left means 409', async () => {
    const way = (await h.api.post('/v1/contact-ways').send({ activity: 'spring' })).body;
    for (const customer of ['wmSpring1', 'wmSpring2'])
      await push(addEvent({ UserID: 'clerk01', ExternalUserID: customer, State: 'spring2026', WelcomeCode: h.sim.issueWelcomeCode() }));
    await eventually(async () => (await poolOf('clerk01'))?.inPool === false || undefined);
    expect(await poolOf('clerk01')).toMatchObject({ addsToday: 2, inPool: false, reason: expect.stringContaining('daily limit') });
    await eventually(() => h.sim.contactWays.get(way.configId)?.deleted || undefined);
    const next = await h.api.post('/v1/contact-ways').send({ activity: 'spring' });
    expect(next.body.employee).toBe('clerk02');
    const miniprogram = h.sim.welcomes.find((w) => JSON.stringify(w.body).includes('wmSpring1'));
    expect(miniprogram?.body).toMatchObject({ attachments: [{ msgtype: 'miniprogram', miniprogram: { page: '/index?c=wmSpring1' } }] });
    for (const customer of ['wmSpring3', 'wmSpring4'])
      await push(addEvent({ UserID: 'clerk02', ExternalUserID: customer, State: 'spring2026', WelcomeCode: h.sim.issueWelcomeCode() }));
    await eventually(async () => (await poolOf('clerk02'))?.inPool === false || undefined);
    const none = await h.api.post('/v1/contact-ways').send({ activity: 'spring' });
    expect(none.status).toBe(409);
    expect(none.body.error.message).toMatch(/no employee/);
  });

  it('when a burst of 200 adds arrives while 5000 alerts are queued, then every welcome is sent inside the window', async () => {
    h.sim.setLatency(5);
    const sendWorker = h.gateway.workers.find((w) => w.name === 'send')!;
    await sendWorker.pause(); // let the backlog build up, then release it together with the burst
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          h.api.post('/v1/messages').send(alert({ data: { title: `storm ${batch}-${i}`, content: 'c', level: 'info' } })),
        ),
      );
    }
    // One key's 5,000 parts: those beyond its send share wait prioritized, the rest in the plain waiting list.
    const waiting = await h.gateway.queues.get('send')!.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    expect(waiting.waiting + waiting.prioritized).toBe(5000);
    await sendWorker.resume();
    const codes: string[] = [];
    const latencies: number[] = [];
    for (let i = 0; i < 200; i++) {
      const code = h.sim.issueWelcomeCode();
      codes.push(code);
      await push(addEvent({ UserID: 'sales01', ExternalUserID: `wmBurst${i}`, State: 'expo2026', WelcomeCode: code }));
    }
    await eventually(() => codes.every((c) => h.sim.welcomes.some((w) => w.welcomeCode === c)) || undefined, 20_000);
    const sent = (await outcomes()).filter((o) => String(o.customer).startsWith('wmBurst'));
    latencies.push(...sent.map((o) => o.latencyMs as number).sort((a, b) => a - b));
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    const left = await h.gateway.queues.get('send')!.getJobCounts('waiting');
    process.stdout.write(
      `welcome burst: 200 adds during a 5000-send backlog (${left.waiting} sends still ` +
        `waiting at the end): p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${latencies.at(-1)} ms\n`,
    );
    expect(sent.every((o) => o.outcome === 'sent')).toBe(true);
    expect(latencies.at(-1)).toBeLessThan(18_000);
    h.sim.setLatency(0);
  }, 60_000);
});

describe('the shipped welcome activities', () => {
  const push = async (h: Harness, xml: string) => {
    const p = encryptedPush(wecom, SIM_APP.corpId, xml);
    expect((await h.api.post(`/wecom/callback?${p.query}`).set('content-type', 'text/xml').send(p.body)).status).toBe(200);
  };

  it('when a production gateway (WeCom credentials, not the sandbox) runs the shipped templates, then it has no activity and a new customer gets no demo welcome', async () => {
    const h = await startHarness({ env: { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY } });
    try {
      expect(h.config.sandbox).toBe(false);
      expect((await h.api.get('/v1/welcome/activities')).body.activities).toEqual([]);
      expect((await h.api.post('/v1/contact-ways').send({ activity: 'expo2026' })).status).toBe(404);
      const code = h.sim.issueWelcomeCode();
      await push(h, addEvent({ UserID: 'sales01', ExternalUserID: 'wmRealCustomer', State: 'their-own-code', WelcomeCode: code }));
      const outcome = await eventually(async () =>
        ((await h.api.get('/v1/welcome/outcomes')).body.outcomes as Record<string, any>[]).find((o) => o.customer === 'wmRealCustomer'),
      );
      expect(outcome).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('there is no fallback') });
      expect(h.sim.welcomes.find((w) => w.welcomeCode === code)).toBeUndefined();
    } finally {
      await h.close();
    }
  });

  it('when the sandbox runs them, then the expo2026 demo is served, to its own QR code only', async () => {
    const h = await startHarness({
      env: { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY },
      config: (c) => ({ ...c, sandbox: true }),
    });
    try {
      expect((await h.api.get('/v1/welcome/activities')).body.activities).toEqual([
        expect.objectContaining({ activity: 'expo2026', state: 'expo2026' }),
      ]);
      const demo = h.sim.issueWelcomeCode();
      await push(h, addEvent({ UserID: 'sales01', ExternalUserID: 'wmDemo', State: 'expo2026', WelcomeCode: demo }));
      expect((await eventually(() => h.sim.welcomes.find((w) => w.welcomeCode === demo))).body).toMatchObject({
        attachments: [{ msgtype: 'link' }],
      });
      const other = h.sim.issueWelcomeCode();
      await push(h, addEvent({ UserID: 'sales01', ExternalUserID: 'wmOther', State: 'their-own-code', WelcomeCode: other }));
      await eventually(async () =>
        ((await h.api.get('/v1/welcome/outcomes')).body.outcomes as Record<string, any>[]).find((o) => o.customer === 'wmOther'),
      );
      expect(h.sim.welcomes.find((w) => w.welcomeCode === other)).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});

describe('employee pool counters', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL!);
  });
  afterAll(() => redis.quit());

  const activities = new Activities([
    buildActivity(
      { activity: 'a', state: 's', welcome: { text: 'hi' }, employees: [{ userId: 'e1', dailyLimit: 2, totalLimit: 3 }] },
      'inline',
    ),
  ]);

  it('when the day rolls over in Asia/Shanghai, then the daily count starts again and the employee is back in the pool', async () => {
    let now = Date.parse('2026-11-24T15:30:00Z'); // 23:30 in Shanghai
    const pool = new EmployeePool(redis, activities, {
      keys: redisKeys(uniquePrefix()).welcome,
      timeZone: 'Asia/Shanghai',
      now: () => now,
    });
    await pool.countAdd('e1', 'c1');
    await pool.countAdd('e1', 'c2');
    expect(await pool.entry(activities.list[0].employees[0])).toMatchObject({ addsToday: 2, inPool: false });
    now = Date.parse('2026-11-24T16:05:00Z'); // 00:05 the next day in Shanghai, still the 24th in UTC
    expect(pool.day()).toBe('2026-11-25');
    expect(await pool.entry(activities.list[0].employees[0])).toMatchObject({ addsToday: 0, totalCustomers: 2, inPool: true });
  });

  it('when an employee nears the total cap, then they leave the pool until customers are removed', async () => {
    let now = Date.parse('2026-11-20T02:00:00Z');
    const pool = new EmployeePool(redis, activities, {
      keys: redisKeys(uniquePrefix()).welcome,
      timeZone: 'Asia/Shanghai',
      now: () => now,
    });
    for (const [i, c] of ['c1', 'c2', 'c3'].entries()) {
      now += i * 86_400_000; // one a day, never the daily limit
      await pool.countAdd('e1', c);
    }
    expect(await pool.entry(activities.list[0].employees[0])).toMatchObject({
      totalCustomers: 3,
      inPool: false,
      reason: expect.stringContaining('cap'),
    });
    await pool.countRemoval('e1', 'c2');
    await pool.countRemoval('e1', 'c2'); // del_external_contact and del_follow_user for the same customer count once
    expect(await pool.entry(activities.list[0].employees[0])).toMatchObject({ totalCustomers: 2, inPool: true });
  });
});

describe('retiring contact-me codes', () => {
  let sim: WecomSimulator;
  let redis: Redis;
  let client: WecomTransport;
  let ways: ContactWays;
  const logs: Record<string, any>[] = [];
  const activities = new Activities([
    buildActivity({ activity: 'a', state: 's', welcome: { text: 'hi' }, employees: [{ userId: 'e1' }] }, 'inline'),
  ]);

  beforeAll(async () => {
    sim = await WecomSimulator.start({ apps: [SIM_APP] });
    redis = new Redis(process.env.TEST_REDIS_URL!);
    client = new WecomTransport({ apiBase: sim.url, timeoutMs: 2_000 });
    const keys = redisKeys(uniquePrefix());
    const api = new WecomApi(client, new TokenStore(redis, client, { keys }));
    const pool = new EmployeePool(redis, activities, { keys: keys.welcome, timeZone: 'Asia/Shanghai' });
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    ways = new ContactWays(redis, api, { name: 'customer-contact', ...SIM_APP }, activities, pool, { keys: keys.welcome, logger });
  });
  afterAll(async () => {
    await client.close();
    await redis.quit();
    await sim.stop();
  });

  it('when WeCom refuses to delete a code (48002) or is busy, then the code is kept and tried again; deleted, it is gone here too', async () => {
    const { reused: _, ...way } = await ways.forActivity('a');
    sim.failNext(1, { errcode: 48002, errmsg: 'api forbidden' }, 'externalcontact/del_contact_way');
    expect(await ways.retire('e1')).toBe(0);
    expect(await ways.list('a')).toEqual([way]);
    expect(logs.find((l) => l.level === 40 && l.configId === way.configId)).toMatchObject({
      errcode: 48002,
      employee: 'e1',
      activity: 'a',
    });
    sim.failNext(1, { errcode: -1, errmsg: 'system busy' }, 'externalcontact/del_contact_way');
    expect(await ways.retire('e1')).toBe(0);
    expect(await ways.list('a')).toEqual([way]);
    expect(sim.contactWays.get(way.configId)?.deleted).toBe(false);
    expect(await ways.retire('e1')).toBe(1);
    expect(await ways.list('a')).toEqual([]);
    expect(sim.contactWays.get(way.configId)?.deleted).toBe(true);
  });

  it('when WeCom no longer knows the code (41044), then it is as good as deleted: the record goes', async () => {
    const way = await ways.forActivity('a');
    sim.contactWays.get(way.configId)!.deleted = true; // deleted at WeCom by someone else
    expect(await ways.retire('e1')).toBe(1);
    expect(await ways.list('a')).toEqual([]);
    expect(sim.calls.filter((c) => c.api === 'externalcontact/del_contact_way').at(-1)).toMatchObject({ errcode: 41044 });
  });
});
