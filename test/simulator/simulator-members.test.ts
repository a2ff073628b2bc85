import { createServer, type Server } from 'node:http';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config/load';
import { createGateway } from '../../src/gateway';
import { startSandbox, type Sandbox } from '../../src/main/sandbox';
import { WecomSimulator } from '../../src/simulator/simulator';
import { alert, eventually, finalStatus, listen, SIM_APP, TEMPLATES_DIR, uniquePrefix } from '../support/harness';

/** The sandbox as `npm start` runs it (its simulator, its members, its callback keys), with a gateway listening on loopback. */
async function startSandboxGateway(
  env: Record<string, string> = {},
  autoReplies: { match: 'keyword'; pattern: string; reply: string }[] = [],
) {
  const config = loadConfig({
    REDIS_URL: process.env.TEST_REDIS_URL,
    REDIS_PREFIX: uniquePrefix(),
    TEMPLATES_DIR,
    LOG_LEVEL: 'silent',
    RETRY_BASE_DELAY_MS: '5',
    MEMBER_QUOTA: 'off',
    ...env,
  });
  const sandbox = await startSandbox(config, { port: 0 });
  const gatewayConfig = { ...sandbox.config, callback: { ...sandbox.config.callback, autoReplies } };
  const gateway = await createGateway(gatewayConfig, { logger: pino({ level: 'silent' }) });
  const http = await listen(gateway.app);
  sandbox.deliverCallbacksTo({ host: '127.0.0.1', port: Number(new URL(http.base).port) });
  return {
    sandbox,
    gateway,
    api: request(gateway.app),
    async close() {
      await http.close();
      await gateway.close();
      await sandbox.stop();
    },
  };
}

/** The simulator's control API, as a sandbox user calls it with curl. */
async function control(sandbox: Sandbox, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sandbox.simulator.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** A service of the user's behind INBOUND_WEBHOOK_URL: records what it receives. */
async function startReceiver() {
  const received: Record<string, any>[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    received,
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/inbound`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("the sandbox simulator's members", () => {
  let s: Awaited<ReturnType<typeof startSandboxGateway>>;
  beforeAll(async () => {
    s = await startSandboxGateway();
  });
  afterAll(() => s.close());

  it('when a message goes only to a userid the corp does not have, then WeCom answers 81013 and the message fails, saying so', async () => {
    const res = await s.api.post('/v1/messages').send(alert({ to: { users: ['nobody'] } }));
    expect(res.status).toBe(202);
    const view = await finalStatus(s.api, res.body.id);
    expect(view).toMatchObject({ status: 'failed', error: { errcode: 81013 } });
    expect(s.sandbox.simulator.calls.filter((c) => c.api === 'message/send').at(-1)?.errcode).toBe(81013);
  });

  it('when a message goes to a member and a stranger, then it is sent to the member and the stranger is listed invalid', async () => {
    const res = await s.api.post('/v1/messages').send(alert({ to: { users: ['zhangsan', 'Nobody'] } }));
    const view = await finalStatus(s.api, res.body.id);
    // WeCom folds the ids it returns to lower case (reference §2.3).
    expect(view).toMatchObject({ status: 'sent', invalid: { users: ['nobody'] } });
    expect(s.sandbox.simulator.sent.at(-1)?.touser).toEqual(['zhangsan']);
  });

  it("when the README's members and departments are sent to, then every one is valid", async () => {
    const res = await s.api
      .post('/v1/messages')
      .send(alert({ to: { users: ['zhangsan', 'lisi', 'wangwu', 'boss', 'sales01', 'sales02'], parties: ['2', '3'] } }));
    const view = await finalStatus(s.api, res.body.id);
    expect(view.status).toBe('sent');
    expect(view.invalid).toBeUndefined();
  });

  it('when asked, then the simulator lists its members with names and departments', async () => {
    const { status, body } = await control(s.sandbox, 'GET', '/__sim/members');
    expect(status).toBe(200);
    expect(body.anyUserid).toBe(false);
    expect(body.members).toContainEqual(expect.objectContaining({ userid: 'zhangsan', name: '张三', department: [2] }));
    expect(body.departments).toContainEqual(expect.objectContaining({ id: 2, parentid: 1 }));
  });

  it('when the members are replaced over the control API, then only those are valid, until a reset brings the sample corp back', async () => {
    expect(
      (await control(s.sandbox, 'PUT', '/__sim/members', { members: ['ops01', { userid: 'dba01', name: '数据库', department: [2] }] }))
        .status,
    ).toBe(200);
    expect((await control(s.sandbox, 'PUT', '/__sim/members', { members: ['not ok'] })).status).toBe(400);
    const failed = await finalStatus(s.api, (await s.api.post('/v1/messages').send(alert({ to: { users: ['zhangsan'] } }))).body.id);
    expect(failed).toMatchObject({ status: 'failed', error: { errcode: 81013 } });
    const sent = await finalStatus(s.api, (await s.api.post('/v1/messages').send(alert({ to: { users: ['dba01'] } }))).body.id);
    expect(sent.status).toBe('sent');
    expect((await control(s.sandbox, 'POST', '/__sim/reset')).status).toBe(200);
    expect((await control(s.sandbox, 'GET', '/__sim/members')).body.members.map((m: { userid: string }) => m.userid)).toEqual([
      'zhangsan',
      'lisi',
      'wangwu',
      'boss',
      'sales01',
      'sales02',
    ]);
  });
});

describe('SIMULATOR_MEMBERS', () => {
  it('when it lists userids, then those are the members; when it is *, then every well-formed userid is one', async () => {
    const listed = await startSandbox(loadConfig({ SIMULATOR_MEMBERS: 'ops01, dba01', LOG_LEVEL: 'silent' }), { port: 0 });
    const open = await startSandbox(loadConfig({ SIMULATOR_MEMBERS: '*', LOG_LEVEL: 'silent' }), { port: 0 });
    try {
      const members = (await control(listed, 'GET', '/__sim/members')).body;
      expect(members).toMatchObject({
        anyUserid: false,
        members: [
          { userid: 'ops01', name: 'ops01', department: [1] },
          { userid: 'dba01', name: 'dba01', department: [1] },
        ],
      });
      expect((await control(open, 'GET', '/__sim/members')).body.anyUserid).toBe(true);
    } finally {
      await listed.stop();
      await open.stop();
    }
  });

  it('when it names a malformed userid, then start-up stops naming the variable', () => {
    expect(() => loadConfig({ SIMULATOR_MEMBERS: 'ok01,not ok' })).toThrow(/SIMULATOR_MEMBERS/);
  });
});

describe('contact changes pushed by the simulator', () => {
  let s: Awaited<ReturnType<typeof startSandboxGateway>>;
  beforeAll(async () => {
    s = await startSandboxGateway();
  });
  afterAll(() => s.close());

  it("when an admin adds a member in WeCom (create_user), then the gateway's contact mirror has them and a message to them is delivered", async () => {
    const pushed = await control(s.sandbox, 'POST', '/__sim/contact-change', {
      ChangeType: 'create_user',
      UserID: 'zhaoliu',
      Name: '赵六',
      Department: [3],
      Position: 'SRE',
    });
    expect(pushed).toMatchObject({ status: 200, body: { changeType: 'create_user', callbackStatus: 200 } });
    expect((await s.api.get('/v1/contacts/users/zhaoliu')).body).toMatchObject({
      userId: 'zhaoliu',
      name: '赵六',
      departments: [3],
      position: 'SRE',
    });
    const view = await finalStatus(s.api, (await s.api.post('/v1/messages').send(alert({ to: { users: ['zhaoliu'] } }))).body.id);
    expect(view).toMatchObject({ status: 'sent' });
    expect((await control(s.sandbox, 'GET', '/__sim/members')).body.members).toContainEqual(
      expect.objectContaining({ userid: 'zhaoliu', name: '赵六', department: [3] }),
    );
  });

  it('when a member is removed (delete_user), then the change feed records it and a message to them fails with 81013', async () => {
    expect((await control(s.sandbox, 'POST', '/__sim/contact-change', { ChangeType: 'delete_user', UserID: 'wangwu' })).status).toBe(200);
    const feed = (await s.api.get('/v1/contacts/changes?since=0&limit=100')).body.changes as Record<string, any>[];
    expect(feed.at(-1)).toMatchObject({ type: 'user', event: 'user.deleted' });
    expect((await control(s.sandbox, 'GET', '/__sim/members')).body.members).not.toContainEqual(
      expect.objectContaining({ userid: 'wangwu' }),
    );
    const view = await finalStatus(s.api, (await s.api.post('/v1/messages').send(alert({ to: { users: ['wangwu'] } }))).body.id);
    expect(view).toMatchObject({ status: 'failed', error: { errcode: 81013 } });
  });

  it('when a department is created, then the mirror lists it and a message to it is delivered', async () => {
    expect(
      (await control(s.sandbox, 'POST', '/__sim/contact-change', { ChangeType: 'create_party', Id: 9, Name: '值班组', ParentId: 2 }))
        .status,
    ).toBe(200);
    expect((await s.api.get('/v1/contacts/departments')).body.departments).toContainEqual(
      expect.objectContaining({ id: 9, name: '值班组', parentId: 2 }),
    );
    const view = await finalStatus(s.api, (await s.api.post('/v1/messages').send(alert({ to: { parties: ['9'] } }))).body.id);
    expect(view).toMatchObject({ status: 'sent' });
  });

  it('when a change names a member the corp does not have, or a change type the simulator does not play, then 4xx and nothing is pushed', async () => {
    const before = (await s.api.get('/v1/contacts/changes?since=0&limit=100')).body.changes.length;
    const unknown = await control(s.sandbox, 'POST', '/__sim/contact-change', { ChangeType: 'update_user', UserID: 'nobody', Name: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/nobody/);
    expect(
      (await control(s.sandbox, 'POST', '/__sim/contact-change', { ChangeType: 'create_user', UserID: 'zhangsan', Name: 'again' })).status,
    ).toBe(409);
    expect((await control(s.sandbox, 'POST', '/__sim/contact-change', { ChangeType: 'rename_everything', UserID: 'x' })).status).toBe(400);
    expect((await s.api.get('/v1/contacts/changes?since=0&limit=100')).body.changes.length).toBe(before);
  });
});

describe('member messages pushed by the simulator', () => {
  let s: Awaited<ReturnType<typeof startSandboxGateway>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    s = await startSandboxGateway({ INBOUND_WEBHOOK_URL: receiver.url }, [
      { match: 'keyword', pattern: 'ping', reply: 'pong to {{fromUser}}' },
    ]);
  });
  afterAll(async () => {
    await s.close();
    await receiver.close();
  });

  it("when a member writes to the app, then the user's INBOUND_WEBHOOK_URL receives the text", async () => {
    const { status, body } = await control(s.sandbox, 'POST', '/__sim/member-message', { user: 'lisi', content: '查看告警' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ user: 'lisi', msgId: expect.stringMatching(/^\d+$/), callbackStatus: 200, reply: null });
    const delivered = await eventually(() => receiver.received.find((r) => r.msgId === body.msgId));
    expect(delivered).toMatchObject({ kind: 'message', msgType: 'text', fromUser: 'lisi', content: '查看告警', agentId: '1000002' });
  });

  it('when the text matches an auto-reply, then the answer shows the reply the member sees', async () => {
    const { body } = await control(s.sandbox, 'POST', '/__sim/member-message', { user: 'zhangsan', content: 'ping' });
    expect(body).toMatchObject({ callbackStatus: 200, reply: { msgType: 'text', content: 'pong to zhangsan' } });
  });

  it('when someone who is not a member "writes", then 404 and nothing is pushed', async () => {
    const res = await control(s.sandbox, 'POST', '/__sim/member-message', { user: 'nobody', content: 'hi' });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/nobody/);
    expect((await control(s.sandbox, 'POST', '/__sim/member-message', { user: 'lisi' })).status).toBe(400);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received.filter((r) => r.fromUser === 'nobody' || r.content === undefined)).toEqual([]);
  });
});

describe('the simulator without a directory (tests)', () => {
  it('when no members are given, then any well-formed userid is one, and pushes still need a callback target', async () => {
    const sim = await WecomSimulator.start({ apps: [SIM_APP] });
    try {
      const members = (await fetch(`${sim.url}/__sim/members`).then((r) => r.json())) as Record<string, unknown>;
      expect(members).toMatchObject({ anyUserid: true });
      const res = await fetch(`${sim.url}/__sim/member-message`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'anyone', content: 'hi' }),
      });
      expect(res.status).toBe(409);
    } finally {
      await sim.stop();
    }
  });
});
