import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { createGateway } from '../../src/gateway';
import { WecomSimulator } from '../../src/simulator/simulator';
import { amPayload } from '../support/alertmanager';
import { eventually, finalStatus, startHarness, TEMPLATES_DIR, testConfig, UNLIMITED_SIM, type Harness } from '../support/harness';

const OPS_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a0a1';
const DEV_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a0a2';
const GONE_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a0ff';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const FILE = Buffer.from('quarterly numbers, not much else');
/** A short robot window, so that the budget tests take seconds: 20 messages per 2 s at both ends. */
const WINDOW_MS = 2_000;
const ROBOT_ENV = { WECOM_ROBOTS: `ops=${OPS_KEY},dev=${DEV_KEY},gone=${GONE_KEY}`, ROBOT_QUOTA: `20/${WINDOW_MS / 1000}` };
const ROBOT_SIM = { robotKeys: [OPS_KEY, DEV_KEY], robotLimit: { count: 20, windowMs: WINDOW_MS } };

let templatesDir: string;
beforeAll(() => {
  templatesDir = mkdtempSync(join(tmpdir(), 'wgw-groups-'));
  cpSync(TEMPLATES_DIR, templatesDir, { recursive: true });
  for (const file of ['group.note.yaml', 'group.card.yaml', 'report.chart.yaml'])
    cpSync(join(__dirname, '..', 'fixtures', 'templates', file), join(templatesDir, file));
});
afterAll(() => rmSync(templatesDir, { recursive: true, force: true }));

const note = (
  msgtype: string,
  data: Record<string, unknown>,
  to: Record<string, unknown> = { robots: ['ops'] },
  extra: Record<string, unknown> = {},
) => ({ event: 'group.note', msgtype, to, data, ...extra });

describe('group robots', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir, EGRESS_ALLOW: '127.0.0.1' }, simulator: ROBOT_SIM });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  async function sendToRobot(body: Record<string, unknown>) {
    const res = await h.api.post('/v1/messages').send(body);
    expect(res.status).toBe(202);
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({ status: 'sent' });
    return { view, delivered: h.sim.robotSent.filter((m) => m.key === OPS_KEY) };
  }

  it.each([
    ['text', 'text', { content: '磁盘 95% on db1' }, (b: any) => expect(b.content).toBe('磁盘 95% on db1')],
    [
      'markdown',
      'markdown',
      { content: '**disk** <font color="warning">95%</font>' },
      (b: any) => expect(b.content).toBe('**disk** <font color="warning">95%</font>'),
    ],
    [
      'markdown_v2',
      'markdown_v2',
      { content: '| host | use |\n| --- | --- |\n| db1 | 95% |' },
      (b: any) => expect(b.content).toContain('| db1 | 95% |'),
    ],
    [
      'news',
      'news',
      { title: 'Weekly report', content: 'numbers', url: 'https://reports.example/w48' },
      (b: any) => expect(b.articles).toEqual([{ title: 'Weekly report', description: 'numbers', url: 'https://reports.example/w48' }]),
    ],
    [
      'image',
      'image',
      { base64: PNG.toString('base64') },
      (b: any) => expect(b).toEqual({ base64: PNG.toString('base64'), md5: createHash('md5').update(PNG).digest('hex') }),
    ],
    ['file', 'file', { base64: FILE.toString('base64') }, (b: any) => expect(typeof b.media_id).toBe('string')],
    ['voice', 'voice', { base64: FILE.toString('base64') }, (b: any) => expect(typeof b.media_id).toBe('string')],
    // Other bytes than the file's: the simulator's reset forgot the media the gateway cached for those.
    [
      'video',
      'file',
      { base64: Buffer.from('a short clip, or so it says').toString('base64') },
      (b: any) => expect(typeof b.media_id).toBe('string'),
    ],
    [
      'template_card',
      'template_card',
      { title: 'Deploy done', url: 'https://ci.example/1' },
      (b: any) => expect(b).toMatchObject({ card_type: 'text_notice', main_title: { title: 'Deploy done' } }),
    ],
    // The event has a markdown form: the robot gets that rather than a converted card.
    [
      'textcard',
      'markdown',
      { title: 'Disk 95%', content: 'db1 <root>', url: 'https://grafana.example/d/1' },
      (b: any) => expect(b.content).toBe('db1 <root>'),
    ],
  ])('when a %s message goes to a robot, then the robot gets it as %s', async (msgtype, robotType, data, check) => {
    const { delivered } = await sendToRobot(note(msgtype, data));
    expect(delivered).toHaveLength(1);
    expect(delivered[0].msgtype).toBe(robotType);
    check(delivered[0].body);
  });

  it('when an event with no markdown form sends a textcard to a robot, then the card arrives converted to markdown', async () => {
    const res = await h.api.post('/v1/messages').send({
      event: 'group.card',
      to: { robots: ['ops'] },
      data: { title: 'Disk 95%', content: 'db1 <root> & co', url: 'https://grafana.example/d/1' },
    });
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    expect(h.sim.robotSent.map((m) => [m.msgtype, m.body.content])).toEqual([
      [
        'markdown',
        '**Disk 95%**\n<font color="comment">db1 <root> & co</font>\n' +
          '<font color="warning">act now</font>\n\n[查看](https://grafana.example/d/1)',
      ],
    ]);
  });

  it('when a message names a robot beside members, then each gets its part under one id', async () => {
    const { view, delivered } = await sendToRobot(note('text', { content: 'both' }, { users: ['zhangsan'], robots: ['ops'] }));
    expect(delivered).toHaveLength(1);
    expect(h.sim.sent.map((m) => m.touser)).toEqual([['zhangsan']]);
    expect(view.parts).toBe(2);
    expect(view.deliveries).toEqual([
      { to: 'members', status: 'sent' },
      { to: 'robot ops', status: 'sent' },
    ]);
  });

  it('when a text or markdown message mentions people, then text lists them and markdown writes <@userid>', async () => {
    await sendToRobot(
      note('text', { content: 'disk full' }, { robots: ['ops'] }, { mentions: { users: ['zhangsan', '@all'], mobiles: ['13800001111'] } }),
    );
    await sendToRobot(note('markdown', { content: '**disk full**' }, { robots: ['ops'] }, { mentions: { users: ['lisi'] } }));
    const [text, markdown] = h.sim.robotSent;
    expect(text.body).toEqual({ content: 'disk full', mentioned_list: ['zhangsan', '@all'], mentioned_mobile_list: ['13800001111'] });
    expect(markdown.body.content).toBe('**disk full**\n<@lisi>');
  });

  it('when a mention cannot reach a robot as asked, then POST answers 422 naming why and queues nothing', async () => {
    const res = await h.api
      .post('/v1/messages')
      .send(note('markdown', { content: 'x' }, { robots: ['ops'] }, { mentions: { users: ['@all'] } }));
    expect(res.status).toBe(422);
    expect(res.body.error.fields[0].field).toBe('mentions');
    const card = await h.api
      .post('/v1/messages')
      .send(note('template_card', { title: 't', url: 'https://x.example', cardType: 'button_interaction' }));
    expect(card.status).toBe(422);
    expect(card.body.error.message).toMatch(/interactive/);
  });

  it('when a message names an unknown robot, then POST answers 404 naming it and nothing is queued', async () => {
    const waiting = await h.gateway.queues.get('send')!.getJobCounts();
    const res = await h.api.post('/v1/messages').send(note('text', { content: 'x' }, { users: ['zhangsan'], robots: ['ops', 'nosuch'] }));
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({
      code: 'unknown_robot',
      fields: [{ field: 'to.robots.1', message: 'no robot is named nosuch' }],
    });
    expect(await h.gateway.queues.get('send')!.getJobCounts()).toEqual(waiting);
  });

  it('when text is longer than 2048 bytes, then the robot gets numbered parts in order, cut between characters', async () => {
    const line = '数据库磁盘使用率超过阈值，请尽快处理。'.repeat(6); // 342 bytes of 3-byte characters
    const content = Array.from({ length: 14 }, (_, i) => `${i + 1}. ${line}`).join('\n');
    const { delivered } = await sendToRobot(note('text', { content }));
    expect(delivered.length).toBe(3);
    delivered.forEach((m, i) => {
      const text = m.body.content as string;
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2048);
      expect(text.endsWith(`\n(${i + 1}/3)`)).toBe(true);
      expect(text).not.toContain('\uFFFD');
    });
    const rejoined = delivered.map((m) => (m.body.content as string).replace(/\n\(\d\/3\)$/, '')).join('\n');
    expect(rejoined).toBe(content);
  });

  it('when WeCom does not know a robot key (93000), then the message fails at once with a hint naming the robot, never the key', async () => {
    const res = await h.api.post('/v1/messages').send(note('text', { content: 'x' }, { robots: ['gone'] }));
    const view = await finalStatus(h.api, res.body.id);
    expect(view.status).toBe('failed');
    expect(view.attempts).toBe(1);
    expect(view.error.errcode).toBe(93000);
    expect(view.error.hint).toMatch(/^robot gone: /);
    expect(JSON.stringify(view)).not.toContain(GONE_KEY);
  });

  it('when a robot image is given by URL, then the gateway fetches it and sends its base64 and md5', async () => {
    const server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end(PNG));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chart.png`;
      const res = await h.api.post('/v1/messages').send({ event: 'report.chart', to: { robots: ['ops'] }, data: { url } });
      expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
      expect(h.sim.robotSent.map((m) => [m.msgtype, m.body])).toEqual([
        ['image', { base64: PNG.toString('base64'), md5: createHash('md5').update(PNG).digest('hex') }],
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('when the dashboard lists a message to a robot, then it says where it went', async () => {
    const res = await h.api
      .post('/v1/messages')
      .send(note('text', { content: 'seen on the dashboard' }, { users: ['zhangsan'], robots: ['ops'] }));
    await finalStatus(h.api, res.body.id);
    const page = await h.api.get('/dashboard/');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(
      new RegExp(
        `${res.body.id}</code></a></td><td>group.note</td><td>text</td><td>default</td>` +
          `<td class="to">users zhangsan; robots ops<br><small>members, robot ops \\(sent\\)</small></td>`,
      ),
    );
  });

  it('when a preview names a robot, then it shows the exact webhook/send bodies', async () => {
    const res = await h.api
      .post('/v1/messages/preview')
      .send(note('text', { content: 'hello' }, { robots: ['ops'] }, { mentions: { users: ['zhangsan'] } }));
    expect(res.status).toBe(200);
    expect(res.body.payloads).toEqual([]);
    expect(res.body.robots).toEqual([
      { robot: 'ops', payloads: [{ msgtype: 'text', text: { content: 'hello', mentioned_list: ['zhangsan'] } }] },
    ]);
  });
});

describe("a robot's 20 messages a minute", () => {
  it('when 30 messages go to one robot at once, then all arrive in the order posted within about two windows, with no 45009', async () => {
    const h = await startHarness({ env: { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir }, simulator: ROBOT_SIM });
    try {
      const started = Date.now();
      const ids: string[] = [];
      // Each its own message (coalescing would merge the waiting ones: coalesce.test.ts).
      for (let i = 0; i < 30; i++)
        ids.push((await h.api.post('/v1/messages').send(note('text', { content: `m${i}` }, undefined, { coalesce: false }))).body.id);
      const waiting = await eventually(async () => {
        const view = (await h.api.get(`/v1/messages/${ids[29]}`)).body;
        return view.status === 'deferred' ? view : undefined;
      });
      expect(waiting.deferred.reason).toMatch(/robot ops/);
      const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 15_000)));
      expect(views.every((v) => v.status === 'sent')).toBe(true);
      // Each listed once on the dashboard, however often a part waited and looked again.
      const recent = await h.redis.lrange(h.keys.recentMessages, 0, -1);
      expect(recent.slice().sort()).toEqual(ids.slice().sort());
      expect(h.sim.robotSent.map((m) => m.body.content)).toEqual(ids.map((_, i) => `m${i}`));
      expect(h.sim.calls.filter((c) => c.errcode === 45009)).toEqual([]);
      const last = h.sim.robotSent[29].at - started;
      expect(last).toBeGreaterThanOrEqual(WINDOW_MS);
      expect(last).toBeLessThan(2 * WINDOW_MS + 3_000);
    } finally {
      await h.close();
    }
  });

  it('when a robot is a pool of two keys, then the first key with room takes each message and 30 go within one window', async () => {
    const SPARE_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a0b2';
    const h = await startHarness({
      // A 10 s window: a message that had to wait for one would arrive 10 s after the first, however slow the machine.
      env: { ...ROBOT_ENV, ROBOT_QUOTA: '20/10', TEMPLATES_DIR: templatesDir },
      simulator: { robotKeys: [OPS_KEY, SPARE_KEY], robotLimit: { count: 20, windowMs: 10_000 } },
      config: (c) => ({ ...c, robots: [...c.robots, { name: 'busy', keys: [OPS_KEY, SPARE_KEY], apiBase: c.wecom.apiBase }] }),
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 30; i++)
        ids.push((await h.api.post('/v1/messages').send(note('text', { content: `p${i}` }, { robots: ['busy'] }))).body.id);
      const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 15_000)));
      expect(views.every((v) => v.status === 'sent')).toBe(true);
      expect(h.sim.robotSent.map((m) => m.key)).toEqual([...Array(20).fill(OPS_KEY), ...Array(10).fill(SPARE_KEY)]);
      expect(h.sim.robotSent.map((m) => m.body.content)).toEqual(ids.map((_, i) => `p${i}`));
      expect(h.sim.robotSent[29].at - h.sim.robotSent[0].at).toBeLessThan(10_000);
    } finally {
      await h.close();
    }
  });

  it('when a message waiting for the robot is recalled, then it is never sent and the messages behind it still go', async () => {
    const h = await startHarness({ env: { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir }, simulator: ROBOT_SIM });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 22; i++)
        ids.push((await h.api.post('/v1/messages').send(note('text', { content: `w${i}` }, undefined, { coalesce: false }))).body.id);
      // The 21st waits for the window, the 22nd behind it.
      await eventually(async () => (await h.api.get(`/v1/messages/${ids[20]}`)).body.status === 'deferred');
      // 409 while a worker holds the part for a moment (it looks again when the part ahead finishes): ask again.
      const recalled = await eventually(async () => {
        const res = await h.api.delete(`/v1/messages/${ids[20]}`);
        return res.status === 200 ? res : undefined;
      });
      expect(recalled.body.status).toBe('recalled');
      expect((await finalStatus(h.api, ids[21], 15_000)).status).toBe('sent');
      expect(h.sim.robotSent.map((m) => m.body.content)).toEqual([...ids.slice(0, 20).map((_, i) => `w${i}`), 'w21']);
    } finally {
      await h.close();
    }
  });

  it('when two instances share one robot, then together they stay within its budget and deliver everything', async () => {
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM, ...ROBOT_SIM });
    const config = testConfig(sim.url, { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir }); // one prefix: one Redis view
    const [a, b] = await Promise.all([0, 1].map(() => createGateway(config, { logger: pino({ level: 'silent' }) })));
    try {
      const posts = Array.from({ length: 30 }, (_, i) =>
        request([a, b][i % 2].app)
          .post('/v1/messages')
          .send(note('text', { content: `n${i}` }, undefined, { coalesce: false })),
      );
      const ids = (await Promise.all(posts)).map((r) => r.body.id as string);
      const views = await Promise.all(ids.map((id) => finalStatus(request(a.app), id, 15_000)));
      expect(views.every((v) => v.status === 'sent')).toBe(true);
      expect(sim.robotSent).toHaveLength(30);
      expect(sim.calls.filter((c) => c.errcode === 45009)).toEqual([]);
      // Never more than 20 inside one window, whichever instance sent them.
      const times = sim.robotSent.map((m) => m.at);
      expect(times.every((t, i) => i < 20 || t - times[i - 20] >= WINDOW_MS)).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await sim.stop();
    }
  });

  it('when WeCom answers 45009 anyway (another tool posts with the key), then the message waits out the window and is sent, while members are not held up', async () => {
    const h = await startHarness({ env: { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir, THROTTLE_45009_MS: '3000' }, simulator: ROBOT_SIM });
    try {
      h.sim.failNext(1, { errcode: 45009, errmsg: 'api freq out of limit' }, 'webhook/send');
      const robot = (await h.api.post('/v1/messages').send(note('text', { content: 'r' }))).body.id;
      const deferred = await eventually(async () => {
        const view = (await h.api.get(`/v1/messages/${robot}`)).body;
        return view.status === 'deferred' ? view : undefined;
      });
      expect(deferred.deferred.reason).toMatch(/over its limit/);
      const member = (await h.api.post('/v1/messages').send(note('text', { content: 'm' }, { users: ['zhangsan'] }))).body.id;
      // Had the 45009 paused the send queue, the member's message would wait the 3 s too.
      expect((await finalStatus(h.api, member, 2_000)).status).toBe('sent');
      expect((await finalStatus(h.api, robot, 10_000)).status).toBe('sent');
      expect(h.sim.robotSent.map((m) => m.body.content)).toEqual(['r']);
    } finally {
      await h.close();
    }
  });
});

describe('app group chats', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { TEMPLATES_DIR: templatesDir } });
  });
  afterAll(() => h.close());

  it('when a chat is created, updated and sent to, then WeCom gets appchat/create, update and send', async () => {
    const created = await h.api
      .post('/v1/chats')
      .send({ name: 'oncall', owner: 'zhangsan', users: ['zhangsan', 'lisi'], chatid: 'oncall1' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      app: 'default',
      chatid: 'oncall1',
      name: 'oncall',
      owner: 'zhangsan',
      users: ['zhangsan', 'lisi'],
      createdBy: 'local',
    });
    const updated = await h.api.patch('/v1/chats/oncall1').send({ addUsers: ['wangwu'], removeUsers: ['lisi'], name: 'on-call' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'on-call', users: ['zhangsan', 'wangwu'] });
    expect((await h.api.get('/v1/chats/oncall1')).body.users).toEqual(['zhangsan', 'wangwu']);

    const res = await h.api
      .post('/v1/messages')
      .send(note('text', { content: 'deploy at 10:00' }, { chats: ['oncall1'] }, { mentions: { users: ['@all'] } }));
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    expect(h.sim.chatSent.map((m) => [m.chatid, m.msgtype, m.body])).toEqual([
      ['oncall1', 'text', { content: 'deploy at 10:00', mentioned_list: ['@all'] }],
    ]);
  });

  it('when a chat is created with bad members, then the failing field is named', async () => {
    const res = await h.api.post('/v1/chats').send({ users: ['zhangsan'], owner: 'lisi' });
    expect(res.status).toBe(400);
    expect(res.body.error.fields.map((f: { field: string }) => f.field)).toContain('users');
  });

  it('when a message names a chat the app did not create, then POST answers 404 and WeCom is not called', async () => {
    const res = await h.api.post('/v1/messages').send(note('text', { content: 'x' }, { chats: ['strangers'] }));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('unknown_chat');
    expect((await h.api.get('/v1/chats/strangers')).status).toBe(404);
  });

  it('when a textcard goes to a chat, then the chat gets the textcard itself', async () => {
    await h.api.post('/v1/chats').send({ users: ['zhangsan', 'lisi'], chatid: 'cards' });
    const res = await h.api
      .post('/v1/messages')
      .send(note('textcard', { title: 'Disk', content: 'db1', url: 'https://grafana.example/d/1' }, { chats: ['cards'] }));
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    const sent = h.sim.chatSent.filter((m) => m.chatid === 'cards');
    expect(sent.map((m) => m.msgtype)).toEqual(['textcard']);
  });
});

describe('alert routes to robots', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir }, simulator: ROBOT_SIM });
  });
  afterAll(() => h.close());

  it('when Alertmanager posts with ?robots=ops, then the group gets the notification as markdown', async () => {
    const res = await h.api.post('/v1/integrations/alertmanager?robots=ops').send(amPayload());
    expect(res.status).toBe(202);
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    const [message] = h.sim.robotSent;
    expect(message.msgtype).toBe('markdown');
    expect(message.body.content).toContain('Disk 95% on db1');
  });
});

describe('alert routes of the config file', () => {
  it('when a route names a robot and mentions, then a matching notification reaches the group with them', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wgw-routes-')), 'gateway.yaml');
    writeFileSync(
      file,
      'alertRoutes:\n  - { name: oncall, robots: [ops], mentions: { users: ["@all"] }, ' +
        'msgtype: text, match: { labels: { severity: critical } } }\n',
    );
    const h = await startHarness({ env: { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir, GATEWAY_CONFIG: file }, simulator: ROBOT_SIM });
    try {
      const res = await h.api.post('/v1/integrations/alertmanager').send(amPayload());
      expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
      expect(h.sim.robotSent).toHaveLength(1);
      expect(h.sim.robotSent[0]).toMatchObject({ msgtype: 'text', body: { mentioned_list: ['@all'] } });
    } finally {
      await h.close();
    }
  });
});

describe('robot keys are credentials', () => {
  it('when sends to robots succeed, fail and cannot connect, then no log line, status, metric or diagnostic holds a key', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) });
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM, robotKeys: [OPS_KEY] });
    const base = testConfig(sim.url, { ...ROBOT_ENV, TEMPLATES_DIR: templatesDir, SEND_ATTEMPTS: '2' });
    // One robot at an address nothing listens on: the network error must not carry its URL.
    const config = { ...base, robots: [...base.robots, { name: 'offline', keys: [DEV_KEY], apiBase: 'http://127.0.0.1:9' }] };
    const gateway = await createGateway(config, { logger: pino({ level: 'debug' }, sink) });
    const api = request(gateway.app);
    try {
      const ids: string[] = [];
      for (const robots of [['ops'], ['gone'], ['offline']])
        ids.push((await api.post('/v1/messages').send(note('text', { content: 'k' }, { robots }))).body.id);
      const views = await Promise.all(ids.map((id) => finalStatus(api, id, 15_000)));
      expect(views.map((v) => v.status)).toEqual(['sent', 'failed', 'failed']);
      const seen = [
        ...lines,
        JSON.stringify(views),
        (await api.get('/metrics')).text,
        JSON.stringify((await api.get('/v1/diagnostics')).body),
      ].join('\n');
      expect(seen).toContain('robot offline');
      for (const key of [OPS_KEY, DEV_KEY, GONE_KEY]) expect(seen).not.toContain(key);
    } finally {
      await gateway.close();
      await sim.stop();
    }
  });
});
