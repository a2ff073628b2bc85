import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import { fileSchema } from '../../src/config/file-schema';
import { keylessProblem, loadConfig } from '../../src/config/load';
import { MessageStore } from '../../src/messages/message-store';
import { AuthFailureThrottle } from '../../src/http/rate-limit';
import { freePort } from '../../src/redis/embedded-redis';
import { WecomSimulator } from '../../src/simulator/simulator';
import { amPayload } from '../support/alertmanager';
import { problemsOf } from '../support/config-problems';
import {
  alert,
  eventually,
  finalStatus,
  SIM_APP,
  startHarness,
  TEMPLATES_DIR,
  UNLIMITED_SIM,
  uniquePrefix,
  type Harness,
} from '../support/harness';

const ROOT = join(__dirname, '..', '..');
const SERVER = join(ROOT, 'dist', 'src', 'main', 'server.js');
const MAKE_A_KEY = 'openssl rand -hex 24';

const ALPHA = 'alpha-key-0123456789abcdef';
const BETA = 'beta-key-0123456789abcdef';
const ADMIN = 'admin-key-0123456789abcdef';
const BILLING = 'billing-key-0123456789abcdef';
const ALERTS = 'alerts-key-0123456789abcdef';
const BROADCAST = 'broadcast-key-0123456789abc';
const OPS_ROBOT = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5b0a1';
const DEV_ROBOT = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5b0a2';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const idOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The gateway as an operator starts it; resolves when it exits (or is stopped). */
function runServer(env: Record<string, string>) {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, TEMPLATES_DIR, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stderr, stdout }) };
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

describe('start-up without keys', () => {
  beforeAll(() => {
    if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: build first (npx tsc -b tsconfig.build.json, npm test does)`);
  });

  it.each([
    ['the app credentials', { WECOM_CORP_ID: SIM_APP.corpId, WECOM_AGENT_ID: String(SIM_APP.agentId), WECOM_AGENT_SECRET: SIM_APP.secret }],
    ['only the callback keys', { WECOM_CORP_ID: SIM_APP.corpId, WECOM_CALLBACK_TOKEN: 'tok', WECOM_CALLBACK_AES_KEY: 'a'.repeat(43) }],
  ])(
    'when WeCom credentials (%s) are set and GATEWAY_API_KEYS is not, then the gateway refuses with one line saying how to make a key, exit 78, listening on nothing',
    async (_what, credentials) => {
      const port = await freePort();
      const server = runServer({ ...credentials, PORT: String(port), REDIS_URL: process.env.TEST_REDIS_URL! });
      const code = await server.exited;
      const { stderr, stdout } = server.output();
      expect(code).toBe(78);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^GATEWAY_API_KEYS: required with WeCom credentials/);
      expect(lines[0]).toContain(MAKE_A_KEY);
      expect(stdout).not.toMatch(/listening/);
      expect(await listening(port)).toBe(false);
    },
  );

  it('when neither credentials nor keys are set, then the sandbox starts, on loopback', async () => {
    const port = await freePort();
    const server = runServer({
      PORT: String(port),
      SIMULATOR_PORT: '0',
      REDIS_URL: process.env.TEST_REDIS_URL!,
      REDIS_PREFIX: uniquePrefix(),
    });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok, 20_000, 100);
      expect(loadConfig({}).host).toBe('127.0.0.1');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('when npm run doctor meets credentials without keys, then it reports the same line first, runs its WeCom checks and exits 1', async () => {
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    try {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'main', 'doctor.js')], {
        env: {
          PATH: process.env.PATH,
          REDIS_URL: process.env.TEST_REDIS_URL,
          WECOM_API_BASE: sim.url,
          WECOM_CORP_ID: SIM_APP.corpId,
          WECOM_AGENT_ID: String(SIM_APP.agentId),
          WECOM_AGENT_SECRET: SIM_APP.secret,
        },
      });
      let stdout = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^FAIL all keys: GATEWAY_API_KEYS: required with WeCom credentials .*openssl rand -hex 24/);
      expect(lines).toContainEqual(expect.stringMatching(/^ok {3}default gettoken/));
    } finally {
      await sim.stop();
    }
    expect(
      keylessProblem(loadConfig({ WECOM_CORP_ID: SIM_APP.corpId, WECOM_AGENT_ID: '1', WECOM_AGENT_SECRET: 's', GATEWAY_API_KEYS: ALPHA })),
    ).toBeUndefined();
  });
});

describe('keyless mode (sandbox)', () => {
  let h: Harness;
  beforeAll(async () => {
    // The harness builds the gateway directly: keyless with the simulator's credentials, as tests may.
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('when a local caller asks directly, then it is served without a key, whatever local name it uses', async () => {
    expect((await h.api.get('/v1/events')).status).toBe(200);
    for (const host of ['localhost', 'localhost:8080', 'LOCALHOST:1', '127.0.0.1:8080', '[::1]:8080', '[::1]']) {
      expect({ host, status: (await h.api.get('/v1/events').set('Host', host)).status }).toEqual({ host, status: 200 });
    }
  });

  it.each([
    ['X-Forwarded-For', '203.0.113.9'],
    ['Forwarded', 'for=203.0.113.9;proto=https'],
    ['X-Real-IP', '203.0.113.9'],
  ])('when a request came through a proxy (%s), then 403 saying to set GATEWAY_API_KEYS', async (header, value) => {
    const res = await h.api.post('/v1/messages').set(header, value).send(alert());
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/proxy/);
    expect(res.body.error.message).toContain('GATEWAY_API_KEYS');
  });

  it('when the Host is not local (a DNS-rebinding page), then 403, on the API and the dashboard, and the host is not echoed', async () => {
    for (const host of ['evil.example', 'evil.example:8080', '127.0.0.1.evil.example', '10.0.0.5:8080', 'localhost.evil.example']) {
      const res = await h.api.get('/v1/events').set('Host', host);
      expect({ host, status: res.status }).toEqual({ host, status: 403 });
      expect(JSON.stringify(res.body)).not.toContain('evil');
    }
    expect((await h.api.get('/dashboard/').set('Host', 'evil.example')).status).toBe(403);
  });

  it('when a public route is asked through a proxy, then it answers as before (no rights at stake)', async () => {
    expect((await h.api.get('/healthz').set('X-Forwarded-For', '203.0.113.9').set('Host', 'gateway.example')).status).toBe(200);
  });
});

describe('key rules', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wgw-keys-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = (yaml: string) => {
    const path = join(dir, `${randomUUID()}.yaml`);
    writeFileSync(path, yaml);
    return path;
  };

  it('when a key is shorter than 16 characters, then start-up names it by position, says how to make one and never quotes it', () => {
    const problems = problemsOf({ GATEWAY_API_KEYS: `${ALPHA},short-key-15chr:send` });
    expect(problems).toEqual([`GATEWAY_API_KEYS: key 2: a key must be at least 16 characters (make one with: ${MAKE_A_KEY})`]);
    expect(problemsOf({ GATEWAY_API_KEYS: 'exactly-16-chars' })).toEqual([]);
  });

  it('when a key is one of the shipped examples (change-me…), then start-up refuses it without quoting it', () => {
    const problems = problemsOf({ GATEWAY_API_KEYS: 'change-me-alertmanager-key:send,Change-Me-Admin-Key-2024' });
    expect(problems).toHaveLength(2);
    for (const problem of problems) {
      expect(problem).toMatch(/^GATEWAY_API_KEYS: key \d: an example key/);
      expect(problem).toContain(MAKE_A_KEY);
      expect(problem).not.toMatch(/alertmanager-key|Admin-Key/);
    }
  });

  it('when the config file describes keys, then they are checked the same way, named by position, never quoting a value', () => {
    writeFileSync(join(dir, 'good.key'), `${BILLING}\n`);
    writeFileSync(join(dir, 'short.key'), 'tiny\n');
    const path = configFile(
      [
        'apiKeys:',
        '  - { name: from-file, keyFile: good.key, permissions: [send] }',
        '  - { name: tiny, keyFile: short.key }',
        '  - { name: example, key: change-me-please-0123456789 }',
        '  - { name: missing, keyFile: no-such.key }',
        `  - { name: twice, key: ${ALPHA} }`,
        `  - { name: from-file, key: ${BETA} }`,
      ].join('\n'),
    );
    const problems = problemsOf({ GATEWAY_API_KEYS: ALPHA, GATEWAY_CONFIG: path });
    expect(problems).toEqual([
      `${path}: apiKeys.1.keyFile: a key must be at least 16 characters (make one with: ${MAKE_A_KEY})`,
      `${path}: apiKeys.2.key: an example key ("change-me…") is not a key (make one with: ${MAKE_A_KEY})`,
      `${path}: apiKeys.3.keyFile: cannot read ${join(dir, 'no-such.key')}`,
      `${path}: apiKeys.4: the same key is listed twice (give each caller a key of its own)`,
      `${path}: apiKeys.5: the id from-file is used twice`,
    ]);
    const shapes = configFile(
      [
        `apiKeys:`,
        `  - { name: local, key: ${ADMIN} }`,
        `  - { name: both, key: ${BROADCAST}, keyFile: good.key }`,
        '  - { name: empty, key: abc, events: [] }',
      ].join('\n'),
    );
    const shapeProblems = problemsOf({ GATEWAY_CONFIG: shapes });
    expect(shapeProblems).toEqual([
      `${shapes}: apiKeys.0.name: reserved (local, gateway)`,
      `${shapes}: apiKeys.1.key: give key or keyFile (one of them)`,
      `${shapes}: apiKeys.2.events: list at least one, or leave the list out to allow all`,
    ]);
    problems.push(...shapeProblems);
    const all = problems.join('\n');
    for (const secret of [ALPHA, BETA, ADMIN, BILLING, BROADCAST, 'change-me-please', 'tiny']) expect(all).not.toContain(secret);
  });

  it('when a key names an app or robot that is not configured, then start-up says so', () => {
    const path = configFile(`apiKeys:\n  - { name: scoped, key: ${ALERTS}, apps: [nope], robots: [nobody] }\n`);
    expect(problemsOf({ GATEWAY_CONFIG: path })).toEqual([
      `${path}: apiKeys.0.apps: no app is named nope`,
      `${path}: apiKeys.0.robots: no robot is named nobody`,
    ]);
  });

  it('when keys come from both places, then each has a stable id that is not the key, and only file keys are restricted', () => {
    const path = configFile(`apiKeys:\n  - { name: billing, key: ${BILLING}, permissions: [send, read], events: [program.alert] }\n`);
    const config = loadConfig({ GATEWAY_API_KEYS: `${ALPHA}:read`, GATEWAY_CONFIG: path });
    expect(config.apiKeys.map((k) => ({ id: k.id, permissions: [...k.permissions], scope: k.scope }))).toEqual([
      { id: idOf(ALPHA), permissions: ['read'], scope: undefined },
      {
        id: 'billing',
        permissions: ['send', 'read'],
        scope: { allowAll: false, events: ['program.alert'], apps: undefined, robots: undefined },
      },
    ]);
    // Keys in the file alone still make the gateway listen beyond loopback.
    expect(config.host).toBe('0.0.0.0');
    expect(loadConfig({}).host).toBe('127.0.0.1');
  });

  it("when docker-compose.yml and the example Alertmanager are read, then they carry no working key, require the operator's, and publish on loopback only", () => {
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const alertmanager = readFileSync(join(ROOT, 'deploy', 'alertmanager.yml'), 'utf8');
    const gatewayFile = readFileSync(join(ROOT, 'deploy', 'gateway.yaml'), 'utf8');
    for (const text of [compose, alertmanager, gatewayFile]) expect(text).not.toMatch(/change-me/i);
    expect(compose).toContain(MAKE_A_KEY);
    const services = (parseYaml(compose) as { services: Record<string, { environment?: Record<string, string>; ports?: string[] }> })
      .services;
    expect(services.gateway.environment?.GATEWAY_API_KEYS).toMatch(/^\$\{GATEWAY_API_KEYS:\?/);
    const ports = Object.values(services).flatMap((s) => s.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toMatch(/^127\.0\.0\.1:/);
    expect(services.alertmanager.ports).toBeUndefined(); // its API has no authentication
    const receiver = (
      parseYaml(alertmanager) as { receivers: { webhook_configs: { http_config: { authorization: Record<string, string> } }[] }[] }
    ).receivers[0];
    expect(receiver.webhook_configs[0].http_config.authorization).toEqual({
      type: 'Bearer',
      credentials_file: '/run/secrets/alertmanager_key',
    });
    const parsed = fileSchema.safeParse(parseYaml(gatewayFile));
    expect(parsed.success).toBe(true);
    expect(parsed.data?.apiKeys).toEqual([
      {
        name: 'alertmanager',
        keyFile: '/run/secrets/alertmanager_key',
        permissions: ['send'],
        events: ['alert.notification', 'alert.notification.en'],
      },
    ]);
  });
});

describe('per-caller scope', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wgw-scope-'));
    writeFileSync(join(dir, 'alerts.key'), ALERTS);
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      [
        'apiKeys:',
        `  - { name: billing, key: ${BILLING}, permissions: [send, read], apps: [default], events: [program.alert], robots: [ops] }`,
        '  - { name: alerts, keyFile: alerts.key, permissions: [send, read], events: [alert.notification], robots: [ops] }',
        `  - { name: broadcaster, key: ${BROADCAST}, permissions: [send], allowAll: true }`,
      ].join('\n'),
    );
    h = await startHarness({
      env: {
        GATEWAY_API_KEYS: `${ALPHA}:send+read,${BETA}:send+read,${ADMIN}`,
        GATEWAY_CONFIG: file,
        WECOM_ROBOTS: `ops=${OPS_ROBOT},dev=${DEV_ROBOT}`,
      },
      simulator: { robotKeys: [OPS_ROBOT, DEV_ROBOT] },
    });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (key: string, body: unknown, idempotencyKey?: string) => {
    const req = h.api.post('/v1/messages').set(bearer(key));
    return (idempotencyKey ? req.set('Idempotency-Key', idempotencyKey) : req).send(body as object);
  };
  const titled = (title: string, overrides: Record<string, unknown> = {}) =>
    alert({ data: { title, content: 'c', level: 'info' }, ...overrides });
  const delivered = (title: string) => h.sim.sent.filter((m) => JSON.stringify(m.body).includes(title)).length;

  it('when two keys use the same Idempotency-Key, then each gets its own message, and each repeat answers its own', async () => {
    const a = await post(ALPHA, titled('idem-by-key'), 'order-7');
    const b = await post(BETA, titled('idem-by-key'), 'order-7');
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.id).not.toBe(a.body.id);
    expect((await post(ALPHA, titled('idem-by-key'), 'order-7')).body.id).toBe(a.body.id);
    expect((await post(BETA, titled('idem-by-key'), 'order-7')).body.id).toBe(b.body.id);
    await finalStatus(h.api, a.body.id, 10_000, ALPHA);
    await finalStatus(h.api, b.body.id, 10_000, BETA);
    expect(delivered('idem-by-key')).toBe(2);
  });

  it("when a caller uses a digest-like idempotency key, then it claims nothing in the gateway's own namespace", async () => {
    const key = `digest-${'0'.repeat(20)}-29000000`;
    expect((await post(ALPHA, titled('digest-lookalike'), key)).status).toBe(202);
    expect(await h.redis.exists(h.keys.internalIdempotency(sha256(key)))).toBe(0);
    const store = new MessageStore(h.redis, { keys: h.keys, retentionSeconds: 60 });
    const record = { event: 'alert.digest', msgtype: 'markdown', app: 'default', parts: 1, createdAt: Date.now(), createdBy: 'gateway' };
    const first = await store.create({ ...record, id: randomUUID() }, key);
    expect(first.created).toBe(true);
    expect(await store.create({ ...record, id: randomUUID() }, key)).toEqual({ id: first.id, created: false });
    expect(await h.redis.exists(h.keys.internalIdempotency(sha256(key)))).toBe(1);
  });

  it('when a message is created, then its record names the key by id, never by value', async () => {
    const sent = await post(ALPHA, titled('created-by'));
    const view = await h.api.get(`/v1/messages/${sent.body.id}`).set(bearer(ALPHA));
    expect(view.status).toBe(200);
    expect(view.body.createdBy).toBe(idOf(ALPHA));
    const record = await h.redis.hgetall(h.keys.message(sent.body.id));
    expect(record.createdBy).toBe(idOf(ALPHA));
    expect(JSON.stringify(record)).not.toContain(ALPHA);
    const named = await post(BILLING, titled('created-by-name'));
    expect((await h.api.get(`/v1/messages/${named.body.id}`).set(bearer(BILLING))).body.createdBy).toBe('billing');
  });

  it('when another non-admin key asks for or recalls a message, then 404 exactly like an unknown id, and an admin key sees and recalls it', async () => {
    const sent = await post(ALPHA, titled('not-yours'));
    const id: string = sent.body.id;
    await finalStatus(h.api, id, 10_000, ALPHA);
    const unknown = randomUUID();
    const same = (res: { status: number; body: unknown }, asked: string) => ({
      status: res.status,
      body: JSON.stringify(res.body).replace(asked, 'ID'),
    });
    expect(same(await h.api.get(`/v1/messages/${id}`).set(bearer(BETA)), id)).toEqual(
      same(await h.api.get(`/v1/messages/${unknown}`).set(bearer(BETA)), unknown),
    );
    expect(same(await h.api.delete(`/v1/messages/${id}`).set(bearer(BETA)), id)).toEqual(
      same(await h.api.delete(`/v1/messages/${unknown}`).set(bearer(BETA)), unknown),
    );
    expect((await h.api.get(`/v1/messages/${id}`).set(bearer(BETA))).status).toBe(404);
    expect((await h.api.get(`/v1/messages/${id}`).set(bearer(BILLING))).status).toBe(404);
    expect((await h.api.get(`/v1/messages/${id}`).set(bearer(ALPHA))).body.status).toBe('sent');
    expect((await h.api.get(`/v1/messages/${id}`).set(bearer(ADMIN))).status).toBe(200);
    const recalled = await h.api.delete(`/v1/messages/${id}`).set(bearer(ADMIN));
    expect(recalled.status).toBe(200);
    expect(recalled.body.status).toBe('recalled');
  });

  it.each([
    ['an event outside its list', titled('scope-event', { event: 'deploy.finished' }), 'event'],
    ['an unknown event (403, not 404: nothing is told beyond its scope)', titled('scope-unknown', { event: 'no.such.event' }), 'event'],
    ['through another app', titled('scope-app', { app: 'other' }), 'app'],
    ['to "@all"', titled('scope-all', { to: '@all' }), 'to'],
    ['to "@all" inside the users list', titled('scope-all-user', { to: { users: ['zhangsan', '@ALL'] } }), 'to.users.1'],
    ['to a robot outside its list', titled('scope-robot', { to: { robots: ['ops', 'dev'] } }), 'to.robots.1'],
    ['a mention of "@all"', titled('scope-mention', { to: { robots: ['ops'] }, mentions: { users: ['@all'] } }), 'mentions.users.0'],
  ])('when a restricted key sends %s, then 403 naming the field and nothing is sent', async (_what, body, field) => {
    const res = await post(BILLING, body);
    expect(res.status).toBe(403);
    expect(res.body.error.fields).toEqual([{ field, message: expect.stringMatching(/^this key may not send /) }]);
    expect(JSON.stringify(res.body)).not.toContain(BILLING);
    const preview = await h.api.post('/v1/messages/preview').set(bearer(BILLING)).send(body);
    expect(preview.status).toBe(403);
    expect(preview.body.error.fields[0].field).toBe(field);
    await new Promise((r) => setTimeout(r, 50));
    expect(delivered((body.data as { title: string }).title)).toBe(0);
  });

  it('when a restricted key stays within its scope, then it sends and previews as any key', async () => {
    const sent = await post(BILLING, titled('scope-inside'));
    expect(sent.status).toBe(202);
    expect(
      (
        await h.api
          .post('/v1/messages/preview')
          .set(bearer(BILLING))
          .send(titled('scope-robot-ok', { to: { robots: ['ops'] } }))
      ).status,
    ).toBe(200);
    await finalStatus(h.api, sent.body.id, 10_000, BILLING);
    expect(delivered('scope-inside')).toBe(1);
  });

  it('when a key restricted to some apps manages chats of another app, then 403 naming app before WeCom is asked', async () => {
    const calls = h.sim.calls.length;
    const created = await h.api
      .post('/v1/chats')
      .set(bearer(BILLING))
      .send({ name: 'ops room', users: ['zhangsan', 'lisi'], app: 'other' });
    expect(created.status).toBe(403);
    expect(created.body.error.fields).toEqual([{ field: 'app', message: 'this key may not send through app other' }]);
    expect((await h.api.get('/v1/chats/abc123?app=other').set(bearer(BILLING))).status).toBe(403);
    expect((await h.api.patch('/v1/chats/abc123').set(bearer(BILLING)).send({ app: 'other', name: 'x' })).status).toBe(403);
    expect(h.sim.calls.length).toBe(calls);
  });

  it('when a key may send to "@all" (allowAll, or GATEWAY_API_KEYS), then "@all" is previewed', async () => {
    for (const key of [BROADCAST, ALPHA])
      expect(
        (
          await h.api
            .post('/v1/messages/preview')
            .set(bearer(key))
            .send(titled('all-ok', { to: '@all' }))
        ).status,
      ).toBe(200);
  });

  it('when a restricted key posts an alert outside its scope, then 403 before storm control, so the same alert from a key allowed to send it still goes', async () => {
    const payload = amPayload({ groupKey: 'scope-alert-1' });
    const outside = await h.api.post('/v1/integrations/alertmanager?robots=dev').set(bearer(ALERTS)).send(payload);
    expect(outside.status).toBe(403);
    expect(outside.body.error.fields[0].field).toBe('to.robots.0');
    const grafana = await h.api
      .post('/v1/integrations/grafana?robots=dev')
      .set(bearer(ALERTS))
      .send(amPayload({ groupKey: 'scope-grafana-1' }));
    expect(grafana.status).toBe(403);
    expect(grafana.body.error.fields[0].field).toBe('to.robots.0');
    const wrongEvent = await h.api.post('/v1/integrations/alertmanager?users=zhangsan').set(bearer(BILLING)).send(payload);
    expect(wrongEvent.status).toBe(403);
    expect(wrongEvent.body.error.fields[0].field).toBe('event');
    // Had the refused one been admitted, this would be answered "deduplicated".
    const allowed = await h.api.post('/v1/integrations/alertmanager?robots=dev').set(bearer(ADMIN)).send(payload);
    expect(allowed.status).toBe(202);
    expect(allowed.body.status).toBe('queued');
    const inside = await h.api
      .post('/v1/integrations/alertmanager?robots=ops')
      .set(bearer(ALERTS))
      .send(amPayload({ groupKey: 'scope-alert-2' }));
    expect(inside.status).toBe(202);
    expect((await h.api.get(`/v1/messages/${inside.body.id}`).set(bearer(ALERTS))).body.createdBy).toBe('alerts');
  });
});

describe('failed authentications', () => {
  let h: Harness;
  const GOOD = 'good-key-0123456789abcdef';
  beforeAll(async () => {
    // Behind a proxy on loopback, X-Forwarded-For names the source address: several addresses from one test.
    h = await startHarness({ env: { GATEWAY_API_KEYS: GOOD, TRUST_PROXY: 'loopback' } });
  });
  afterAll(() => h.close());
  const from = (address: string, key?: string) => {
    const req = h.api.get('/v1/events').set('X-Forwarded-For', address);
    return key ? req.set(bearer(key)) : req;
  };

  it('when an address presents 10 wrong keys in a minute, then its further wrong keys get 429 with Retry-After, its right key is served, and other addresses are served', async () => {
    for (let i = 0; i < 10; i++) expect((await from('198.51.100.2', `wrong-key-${i}-0123456789`)).status).toBe(401);
    const blocked = await from('198.51.100.2', 'wrong-key-x-0123456789');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await from('198.51.100.2', GOOD)).status).toBe(200);
    expect((await from('198.51.100.3', GOOD)).status).toBe(200);
  });

  it('when AUTH_FAILURES_PER_MINUTE is set, then the gateway counts to it, in Redis shared by its instances', async () => {
    const strict = await startHarness({ env: { GATEWAY_API_KEYS: GOOD, TRUST_PROXY: 'loopback', AUTH_FAILURES_PER_MINUTE: '3' } });
    try {
      const at = (key: string) => strict.api.get('/v1/events').set('X-Forwarded-For', '198.51.100.7').set(bearer(key));
      for (let i = 0; i < 3; i++) expect((await at(`wrong-key-${i}-0123456789`)).status).toBe(401);
      expect((await at('wrong-key-3-0123456789')).status).toBe(429);
      expect((await at(GOOD)).status).toBe(200);
      expect(await strict.redis.keys(`${strict.keys.authFailures}*`)).toHaveLength(1);
    } finally {
      await strict.close();
    }
  });

  it('when requests come without any key, then they are not counted as guesses', async () => {
    for (let i = 0; i < 15; i++) expect((await from('198.51.100.4')).status).toBe(401);
    expect((await from('198.51.100.4', GOOD)).status).toBe(200);
  });
});

describe('the failed-authentication throttle', () => {
  it('when two instances share Redis, then failures at one block the address at the other, until the window passes', async () => {
    const redis = new Redis(process.env.TEST_REDIS_URL!);
    try {
      await redis.ping(); // connected, as the gateway's connection is before it serves
      const keyPrefix = `${uniquePrefix()}:authfail`;
      const one = new AuthFailureThrottle({ failures: 3, windowSeconds: 1, redis, keyPrefix });
      const two = new AuthFailureThrottle({ failures: 3, windowSeconds: 1, redis, keyPrefix });
      expect(await one.failed('192.0.2.1')).toBe(0);
      expect(await two.failed('192.0.2.1')).toBe(0);
      expect(await one.failed('192.0.2.1')).toBe(0);
      expect(await two.failed('192.0.2.1')).toBe(1);
      expect(await two.failed('192.0.2.2')).toBe(0);
      await new Promise((r) => setTimeout(r, 1_100));
      expect(await two.failed('192.0.2.1')).toBe(0);
    } finally {
      await redis.quit();
    }
  });

  it('when Redis is away, then failures are counted in memory: authentication neither stops nor opens up', async () => {
    const away = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    try {
      const throttle = new AuthFailureThrottle({ failures: 2, redis: away, keyPrefix: 'away' });
      const started = Date.now();
      expect(await throttle.failed('192.0.2.9')).toBe(0);
      expect(await throttle.failed('192.0.2.9')).toBe(0);
      expect(await throttle.failed('192.0.2.9')).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      away.disconnect();
    }
  });
});
