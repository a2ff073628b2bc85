import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { amPayload } from '../support/alertmanager';
import { finalStatus, startHarness, startTestRedis, TEMPLATES_DIR, type Harness } from '../support/harness';

/**
 * Many teams' keys on one gateway (issue 33): one key cannot fill Redis through
 * member budgets, use another key's app group chats, or reach everyone through
 * the root department. Keys come from a config file, as operators give them.
 */

const ALPHA = 'alpha-key-0123456789abcdef';
const BETA = 'beta-key-0123456789abcdef';
const READER = 'reader-key-0123456789abcdef';
const ADMIN = 'admin-key-0123456789abcdef';
const GAMMA = 'gamma-key-0123456789abcdef';
const BROADCAST = 'broadcast-key-0123456789abc';
const ALERTS = 'alerts-key-0123456789abcdef';
const CAPPED = 'capped-key-0123456789abcdef';
const TEAM = 'team-key-0123456789abcdef';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const note = (content: string, to: Record<string, unknown>) => ({ event: 'group.note', msgtype: 'text', to, data: { content } });
const users = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);

let dir: string;
let templatesDir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgw-shared-'));
  templatesDir = join(dir, 'templates');
  cpSync(TEMPLATES_DIR, templatesDir, { recursive: true });
  cpSync(join(__dirname, '..', 'fixtures', 'templates', 'group.note.yaml'), join(templatesDir, 'group.note.yaml'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const configFile = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
};

async function memoryOf(redis: Redis): Promise<{ keys: number; usedMemory: number }> {
  const info = await redis.info('memory');
  return { keys: await redis.dbsize(), usedMemory: Number(/used_memory:(\d+)/.exec(info)![1]) };
}

describe('Redis state per key: distinct users a key may name in an hour', () => {
  it('when a scoped key names 10,000 arbitrary userids in each of 20 requests, then Redis grows by a bounded number of keys, not one per userid', async () => {
    // A Redis of its own: DBSIZE and used_memory then count this gateway only.
    const server = await startTestRedis();
    const file = configFile('growth.yaml', [
      'apiKeys:',
      `  - { name: team, key: ${TEAM}, permissions: [send, read], events: [program.alert] }`,
    ]);
    const h = await startHarness({
      env: { REDIS_URL: server.url, GATEWAY_CONFIG: file, MEMBER_QUOTA: '30/60,1000/3600', API_RATE_LIMIT_PER_MINUTE: '0' },
    });
    const redis = new Redis(server.url);
    /** One program.alert from the scoped key to these users. */
    const alertTo = (to: string[], title: string) =>
      h.api
        .post('/v1/messages')
        .set(bearer(TEAM))
        .send({ event: 'program.alert', msgtype: 'text', to: { users: to }, data: { title, content: 'c', level: 'info' } });
    try {
      const before = await memoryOf(redis);
      const started = Date.now();
      const statuses: number[] = [];
      const ids: string[] = [];
      for (let r = 0; r < 20; r++) {
        const res = await alertTo(users(10_000, `r${r}u`), `flood ${r}`);
        statuses.push(res.status);
        if (res.status === 202) ids.push(res.body.id);
      }
      for (const id of ids) await finalStatus(h.api, id, 60_000, TEAM);
      const after = await memoryOf(redis);
      const grown = { keys: after.keys - before.keys, mb: (after.usedMemory - before.usedMemory) / 1048576 };
      process.stdout.write(
        `recipient flood: ${JSON.stringify({ statuses: [...new Set(statuses)], before, after, grown, ms: Date.now() - started })}\n`,
      );
      // One budget key per userid was 200,000 keys and ~45 MB; a key's cap allows a few thousand at most.
      expect(grown.keys).toBeLessThan(5_000);
      expect(grown.mb).toBeLessThan(5);
      expect(statuses.every((s) => s === 429)).toBe(true);

      // Within the cap (2,000 by default), 1,000 users a request: two requests go, the rest wait for the hour.
      const within: number[] = [];
      for (let r = 0; r < 20; r++) {
        const res = await alertTo(users(1_000, `w${r}u`), `within ${r}`);
        within.push(res.status);
        if (res.status === 202) await finalStatus(h.api, res.body.id, 60_000, TEAM);
      }
      const full = await memoryOf(redis);
      const grownWithin = { keys: full.keys - before.keys, mb: (full.usedMemory - before.usedMemory) / 1048576 };
      process.stdout.write(`recipients within the cap: ${JSON.stringify({ statuses: within, full, grown: grownWithin })}\n`);
      expect(within.filter((s) => s === 202)).toHaveLength(2);
      expect(within.filter((s) => s === 429)).toHaveLength(18);
      expect(grownWithin.keys).toBeLessThan(5_000);
      expect(grownWithin.mb).toBeLessThan(5);
    } finally {
      redis.disconnect();
      await h.close();
      await server.stop();
    }
  }, 120_000);

  describe('a key of the config file with recipientsPerHour: 5', () => {
    let h: Harness;
    beforeAll(async () => {
      const file = configFile('cap.yaml', [
        'apiKeys:',
        `  - { name: capped, key: ${CAPPED}, permissions: [send, read], recipientsPerHour: 5 }`,
        `  - { name: alpha, key: ${ALPHA}, permissions: [send, read] }`,
      ]);
      h = await startHarness({ env: { GATEWAY_CONFIG: file, TEMPLATES_DIR: templatesDir, KEY_RECIPIENTS_PER_HOUR: '2000' } });
    });
    afterAll(() => h.close());

    const post = (key: string, to: Record<string, unknown>) => h.api.post('/v1/messages').set(bearer(key)).send(note('cap', to));

    it('when it names new users past 5 in the hour, then 429 recipient_limit naming to.users with Retry-After, while users already named and other keys still send', async () => {
      expect((await post(CAPPED, { users: ['u1', 'u2', 'u3'] })).status).toBe(202);
      expect((await post(CAPPED, { users: ['U1', 'u2', 'u4', 'u5'] })).status).toBe(202);
      const over = await post(CAPPED, { users: ['u1', 'u6'] });
      expect(over.status).toBe(429);
      expect(over.body.error).toMatchObject({ code: 'recipient_limit', fields: [{ field: 'to.users' }] });
      expect(over.body.error.message).toMatch(/5 distinct users an hour/);
      const retryAfter = Number(over.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(3_600);
      // Users it has named this hour cost nothing; parties and tags are WeCom's to expand and keep no state here.
      expect((await post(CAPPED, { users: ['u5', 'u1'], parties: ['2'] })).status).toBe(202);
      expect((await post(ALPHA, { users: ['u6', 'u7'] })).status).toBe(202);
    });

    it('when one request alone names more users than the cap, then 429 without Retry-After (waiting would not help)', async () => {
      const res = await post(CAPPED, { users: users(6, 'solo') });
      expect(res.status).toBe(429);
      expect(res.body.error).toMatchObject({ code: 'recipient_limit', fields: [{ field: 'to.users' }] });
      expect(res.headers['retry-after']).toBeUndefined();
    });

    it('when a key is refused by the cap, then nothing of it is counted or queued', async () => {
      // Every job the queue holds, whatever its state (earlier sends may be finishing meanwhile).
      const jobs = async () => Object.values(await h.gateway.queues.get('send')!.getJobCounts()).reduce((a, b) => a + b, 0);
      const counted = await h.redis.zrange(h.keys.recipientCap('capped'), 0, -1);
      const queued = await jobs();
      expect((await post(CAPPED, { users: ['never1', 'never2'] })).status).toBe(429);
      expect(await h.redis.zrange(h.keys.recipientCap('capped'), 0, -1)).toEqual(counted);
      expect(counted).not.toContain('never1');
      expect(await jobs()).toBe(queued);
    });
  });
});

describe('everyone through the root department', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = configFile('parties.yaml', [
      'apiKeys:',
      `  - { name: beta, key: ${BETA}, permissions: [send], events: [program.alert] }`,
      `  - { name: broadcaster, key: ${BROADCAST}, permissions: [send], allowAll: true }`,
    ]);
    h = await startHarness({ env: { GATEWAY_CONFIG: file } });
  });
  afterAll(() => h.close());

  const send = (key: string, to: Record<string, unknown>) =>
    h.api
      .post('/v1/messages/preview')
      .set(bearer(key))
      .send({ event: 'program.alert', msgtype: 'text', to, data: { title: 't', content: 'c', level: 'info' } });
  const ids = (n: number, from = 2) => Array.from({ length: n }, (_, i) => String(from + i));

  it.each([
    ['the root department', { parties: ['1'] }, 'to.parties.0'],
    ['the root department as a number, after others', { parties: [5, 1] }, 'to.parties.1'],
    ['101 parties (more than one WeCom call takes)', { parties: ids(101) }, 'to.parties.100'],
    ['60 parties and 41 tags', { parties: ids(60), tags: ids(41) }, 'to.tags.40'],
  ])('when a key without allowAll names %s, then 403 naming the field, as for "@all"', async (_what, to, field) => {
    const res = await send(BETA, to);
    expect(res.status).toBe(403);
    expect(res.body.error.fields).toEqual([{ field, message: expect.stringMatching(/^this key may not send /) }]);
    const sent = await h.api
      .post('/v1/messages')
      .set(bearer(BETA))
      .send({ event: 'program.alert', msgtype: 'text', to, data: { title: 't', content: 'c', level: 'info' } });
    expect(sent.status).toBe(403);
  });

  it('when a key without allowAll names other departments and tags within one call, or a key with allowAll names the root, then it sends', async () => {
    expect((await send(BETA, { parties: ids(50), tags: ids(50) })).status).toBe(200);
    expect((await send(BROADCAST, { parties: ['1'] })).status).toBe(200);
    expect((await send(BROADCAST, { parties: ids(101) })).status).toBe(200);
  });
});

describe('app group chats have an owner', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = configFile('chats.yaml', [
      'apiKeys:',
      `  - { name: alpha, key: ${ALPHA}, permissions: [send, read] }`,
      `  - { name: beta, key: ${BETA}, permissions: [send, read], events: [group.note] }`,
      `  - { name: reader, key: ${READER}, permissions: [read] }`,
      `  - { name: operator, key: ${ADMIN} }`,
      `  - { name: alertmanager, key: ${ALERTS}, permissions: [send, read] }`,
      'alertRoutes:',
      '  - { name: dbchat, chats: [routechat], msgtype: text, match: { labels: { team: db } } }',
    ]);
    h = await startHarness({ env: { GATEWAY_CONFIG: file, TEMPLATES_DIR: templatesDir } });
  });
  afterAll(() => h.close());

  const chatOf = (key: string, chatid: string) =>
    h.api
      .post('/v1/chats')
      .set(bearer(key))
      .send({ name: chatid, users: ['zhangsan', 'lisi'], chatid });
  const sendTo = (key: string, chatid: string, content = 'hello') =>
    h.api
      .post('/v1/messages')
      .set(bearer(key))
      .send(note(content, { chats: [chatid] }));
  const delivered = (chatid: string) => h.sim.chatSent.filter((m) => m.chatid === chatid).map((m) => m.body.content);
  /** A chat the app made outside the gateway (another tool with the same secret). */
  const madeElsewhere = (chatid: string) =>
    h.sim.chats.set(chatid, {
      chatid,
      name: 'elsewhere',
      owner: 'zhangsan',
      users: ['zhangsan', 'lisi'],
      agentId: h.config.apps[0].agentId,
    });

  it("when another send key PATCHes, reads or sends to a team's chat, then it is refused and the chat is unchanged", async () => {
    expect((await chatOf(ALPHA, 'alphaops')).status).toBe(201);
    const patched = await h.api
      .patch('/v1/chats/alphaops')
      .set(bearer(BETA))
      .send({ name: 'taken', addUsers: ['wangwu'], removeUsers: ['lisi'] });
    expect(patched.status).toBe(403);
    expect(patched.body.error.code).toBe('forbidden');
    const sent = await sendTo(BETA, 'alphaops', 'intruder');
    expect(sent.status).toBe(403);
    expect(sent.body.error.fields).toEqual([{ field: 'to.chats.0', message: expect.stringMatching(/another key/) }]);
    expect(
      (
        await h.api
          .post('/v1/messages/preview')
          .set(bearer(BETA))
          .send(note('x', { chats: ['alphaops'] }))
      ).status,
    ).toBe(403);
    // Reads answer as for an unknown chat: nothing about it is told.
    const read = await h.api.get('/v1/chats/alphaops').set(bearer(BETA));
    expect(read.status).toBe(404);
    const unknown = await h.api.get('/v1/chats/nosuchchat').set(bearer(BETA));
    expect(JSON.stringify(read.body).replaceAll('alphaops', 'ID')).toBe(JSON.stringify(unknown.body).replaceAll('nosuchchat', 'ID'));
    expect(h.sim.chats.get('alphaops')).toMatchObject({ name: 'alphaops', users: ['zhangsan', 'lisi'] });
    expect(delivered('alphaops')).toEqual([]);
  });

  it('when the owner or an admin PATCHes and sends, then WeCom gets both, and the chat names its owner', async () => {
    await chatOf(ALPHA, 'alphaown');
    const patched = await h.api
      .patch('/v1/chats/alphaown')
      .set(bearer(ALPHA))
      .send({ addUsers: ['wangwu'] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ chatid: 'alphaown', users: ['zhangsan', 'lisi', 'wangwu'], createdBy: 'alpha' });
    expect((await h.api.patch('/v1/chats/alphaown').set(bearer(ADMIN)).send({ name: 'renamed by ops' })).status).toBe(200);
    expect((await h.api.get('/v1/chats/alphaown').set(bearer(ALPHA))).body).toMatchObject({ name: 'renamed by ops', createdBy: 'alpha' });
    const own = await sendTo(ALPHA, 'alphaown', 'from the owner');
    const admin = await sendTo(ADMIN, 'alphaown', 'from an admin');
    expect([own.status, admin.status]).toEqual([202, 202]);
    await finalStatus(h.api, own.body.id, 10_000, ALPHA);
    await finalStatus(h.api, admin.body.id, 10_000, ADMIN);
    expect(delivered('alphaown').sort()).toEqual(['from an admin', 'from the owner']);
  });

  it('when a read-only key GETs a chat made outside the gateway, then nothing is registered and nobody can send to it', async () => {
    madeElsewhere('outside1');
    const read = await h.api.get('/v1/chats/outside1').set(bearer(READER));
    expect(read.status).toBe(404);
    expect(read.body.error.message).toMatch(/PUT \/v1\/chats\/outside1/);
    const sent = await sendTo(ALPHA, 'outside1');
    expect(sent.status).toBe(404);
    expect(sent.body.error.code).toBe('unknown_chat');
    expect(sent.body.error.message).toMatch(/PUT \/v1\/chats\/\{chatid\}/);
    expect(sent.body.error.message).not.toMatch(/GET/);
    // Registering is a write: a read-only key may not.
    expect((await h.api.put('/v1/chats/outside1').set(bearer(READER)).send({})).status).toBe(403);
  });

  it('when a send key registers a chat with PUT, then it owns it: it sends, another key gets 409 on PUT, and an admin re-reads it without taking it', async () => {
    madeElsewhere('outside2');
    const registered = await h.api.put('/v1/chats/outside2').set(bearer(BETA)).send({});
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ app: 'default', chatid: 'outside2', users: ['zhangsan', 'lisi'], createdBy: 'beta' });
    expect((await h.api.put('/v1/chats/outside2').set(bearer(BETA)).send({})).status).toBe(200);
    const taken = await h.api.put('/v1/chats/outside2').set(bearer(ALPHA)).send({});
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('chat_owned');
    expect((await sendTo(ALPHA, 'outside2')).status).toBe(403);
    const reread = await h.api.put('/v1/chats/outside2').set(bearer(ADMIN)).send({});
    expect(reread.status).toBe(200);
    expect(reread.body.createdBy).toBe('beta');
    const sent = await sendTo(BETA, 'outside2', 'registered');
    expect(sent.status).toBe(202);
    await finalStatus(h.api, sent.body.id, 10_000, BETA);
    expect(delivered('outside2')).toEqual(['registered']);
    // WeCom knows no such chat of this app: nothing is registered.
    expect((await h.api.put('/v1/chats/neverMade').set(bearer(BETA)).send({})).status).toBe(404);
    expect((await h.api.put('/v1/chats/outside2').set(bearer(BETA)).send({ owner: 'x' })).status).toBe(400);
  });

  it('when two keys register the same new chat at once, then exactly one owns it and the other gets 409', async () => {
    for (let round = 0; round < 10; round++) {
      const chatid = `race${round}`;
      madeElsewhere(chatid);
      const answers = await Promise.all([BETA, ALPHA].map((key) => h.api.put(`/v1/chats/${chatid}`).set(bearer(key)).send({})));
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
      const owner = answers.find((a) => a.status === 201)!.body.createdBy;
      expect(JSON.parse((await h.redis.hget(h.keys.chats('default'), chatid))!).createdBy).toBe(owner);
    }
  });

  it('when a chat was registered before chats had owners, then only an admin sends to it until a key registers it again with PUT', async () => {
    madeElsewhere('legacy1');
    await h.redis.hset(
      h.keys.chats('default'),
      'legacy1',
      JSON.stringify({ chatid: 'legacy1', name: 'elsewhere', owner: 'zhangsan', users: ['zhangsan', 'lisi'] }),
    );
    expect((await sendTo(ALPHA, 'legacy1')).status).toBe(403);
    expect((await h.api.get('/v1/chats/legacy1').set(bearer(ALPHA))).status).toBe(404);
    expect((await sendTo(ADMIN, 'legacy1')).status).toBe(202);
    expect((await h.api.put('/v1/chats/legacy1').set(bearer(ALPHA)).send({})).status).toBe(200);
    expect((await sendTo(ALPHA, 'legacy1')).status).toBe(202);
    expect((await sendTo(BETA, 'legacy1')).status).toBe(403);
  });

  it("when an alert route names a chat, then a key posting the alert reaches it whoever registered it, but may not name another's chat in the query", async () => {
    await chatOf(ADMIN, 'routechat');
    const res = await h.api
      .post('/v1/integrations/alertmanager')
      .set(bearer(ALERTS))
      .send(amPayload({ groupKey: 'route-chat-1', commonLabels: { alertname: 'DiskFull', team: 'db' } }));
    expect(res.status).toBe(202);
    expect((await finalStatus(h.api, res.body.id, 10_000, ALERTS)).status).toBe('sent');
    expect(delivered('routechat')).toHaveLength(1);
    const queried = await h.api
      .post('/v1/integrations/alertmanager?chats=alphaown')
      .set(bearer(ALERTS))
      .send(amPayload({ groupKey: 'route-chat-2' }));
    expect(queried.status).toBe(403);
    expect(queried.body.error.fields[0].field).toBe('to.chats.0');
    // Named by a route, the chat is still not the key's to send to directly.
    expect((await sendTo(ALERTS, 'routechat')).status).toBe(403);
  });
});

describe('a key whose scope lists a chat', () => {
  it("when the config file lists a chat in a key's chats:, then that key reads, PATCHes and sends to it, though another key owns it", async () => {
    const file = configFile('scope-chats.yaml', [
      'apiKeys:',
      `  - { name: alpha, key: ${ALPHA}, permissions: [send, read] }`,
      `  - { name: gamma, key: ${GAMMA}, permissions: [send, read], chats: [shared1] }`,
    ]);
    const h = await startHarness({ env: { GATEWAY_CONFIG: file, TEMPLATES_DIR: templatesDir } });
    const createAsAlpha = (chatid: string) =>
      h.api
        .post('/v1/chats')
        .set(bearer(ALPHA))
        .send({ users: ['zhangsan', 'lisi'], chatid });
    try {
      expect((await createAsAlpha('shared1')).status).toBe(201);
      expect((await createAsAlpha('private1')).status).toBe(201);
      expect((await h.api.get('/v1/chats/shared1').set(bearer(GAMMA))).body).toMatchObject({ chatid: 'shared1', createdBy: 'alpha' });
      expect((await h.api.patch('/v1/chats/shared1').set(bearer(GAMMA)).send({ name: 'shared' })).status).toBe(200);
      const sent = await h.api
        .post('/v1/messages')
        .set(bearer(GAMMA))
        .send(note('listed', { chats: ['shared1'] }));
      expect(sent.status).toBe(202);
      expect((await finalStatus(h.api, sent.body.id, 10_000, GAMMA)).status).toBe('sent');
      expect(
        (
          await h.api
            .post('/v1/messages')
            .set(bearer(GAMMA))
            .send(note('x', { chats: ['shared1', 'private1'] }))
        ).body.error.fields,
      ).toEqual([{ field: 'to.chats.1', message: expect.any(String) }]);
    } finally {
      await h.close();
    }
  });
});
