import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { alert, eventually, finalStatus, SIM_APP, startHarness, TEMPLATES_DIR, uniquePrefix, type Harness } from '../support/harness';
import { encryptedPush, eventFields, eventXml } from '../support/wecom-push';

const ROOT = join(__dirname, '..', '..');
const SERVER = join(ROOT, 'dist', 'src', 'main', 'server.js');
const TOKEN = 'reloadToken1';
const AES_KEY = 'ReloadKey0123456789abcdefghijklmnopqrstuvwx';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });

const SPRING = (text: string) =>
  `activity: spring\nstate: spring2026\nwelcome:\n  text: "${text}"\ntags: [etSpring]\nemployees:\n  - { userId: clerk01 }\n`;

/** A TEMPLATES_DIR of a test's own: the shipped templates and one welcome activity. */
function templatesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgw-reload-'));
  cpSync(TEMPLATES_DIR, dir, { recursive: true });
  mkdirSync(join(dir, 'welcome'), { recursive: true });
  writeFileSync(join(dir, 'welcome', 'spring.yaml'), SPRING('春季活动 {{employee.userId}} 为您服务'));
  return dir;
}

/** Rewrites one line of a template file, as an operator's edit does. */
function edit(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
}

const SHIPPED_TEXT = '【{{upper level}}】{{title}}';

/** program.alert.yaml as shipped, then with its text line changed to `text` (each test starts from its own edit). */
function writeProgramAlert(dir: string, text = SHIPPED_TEXT): void {
  writeFileSync(
    join(dir, 'program.alert.yaml'),
    readFileSync(join(TEMPLATES_DIR, 'program.alert.yaml'), 'utf8').replace(SHIPPED_TEXT, text),
  );
}

describe('reloading templates without a restart', () => {
  let h: Harness;
  let dir: string;
  const logs: Record<string, any>[] = [];

  beforeAll(async () => {
    dir = templatesDir();
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    h = await startHarness({ env: { TEMPLATES_DIR: dir, WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY }, logger });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const previewText = async () => {
    const res = await h.api.post('/v1/messages/preview').send(alert());
    expect(res.status).toBe(200);
    return res.body.payloads[0].text.content as string;
  };
  const lastLog = (level: number, msg: RegExp) => logs.filter((l) => l.level === level && msg.test(l.msg)).at(-1);

  it('when a template file is edited and the templates reloaded, then the new text is what is previewed and sent, and the log says what was loaded', async () => {
    expect(await previewText()).toBe('【CRITICAL】Disk 95% on db1\n/var is almost full');
    edit(dir, 'program.alert.yaml', SHIPPED_TEXT, '[v2 {{upper level}}] {{title}}');
    expect(h.gateway.reloadTemplates()).toMatchObject({
      ok: true,
      events: expect.arrayContaining(['program.alert', 'alert.notification']),
      activities: ['spring'],
    });
    expect(await previewText()).toBe('[v2 CRITICAL] Disk 95% on db1\n/var is almost full');

    const sent = await h.api.post('/v1/messages').send(alert());
    const status = await finalStatus(h.api, sent.body.id);
    expect(status.status).toBe('sent');
    expect(h.sim.sent.find((m) => m.msgid === status.msgid)?.body.text).toEqual({
      content: '[v2 CRITICAL] Disk 95% on db1\n/var is almost full',
    });
    expect(lastLog(30, /^templates reloaded/)).toMatchObject({
      dir,
      events: expect.arrayContaining(['program.alert']),
      activities: ['spring'],
      msg: `templates reloaded from ${dir}: 9 events, 1 welcome activity`,
    });
  });

  it('when an event is added, then it can be sent at once, and GET /v1/events and the playground list it', async () => {
    writeFileSync(
      join(dir, 'backup.done.yaml'),
      'event: backup.done\ndata:\n  host: {}\nmsgtypes:\n  text:\n    content: "backup of {{host}} done"\n',
    );
    expect(h.gateway.reloadTemplates()).toMatchObject({ ok: true, events: expect.arrayContaining(['backup.done']) });
    expect(h.gateway.events).toContain('backup.done');
    const preview = await h.api
      .post('/v1/messages/preview')
      .send({ event: 'backup.done', to: { users: ['zhangsan'] }, data: { host: 'db1' } });
    expect(preview.body.payloads[0].text).toEqual({ content: 'backup of db1 done' });
    expect(((await h.api.get('/v1/events')).body.events as { event: string }[]).map((e) => e.event)).toContain('backup.done');
    expect((await h.api.get('/dashboard/playground')).text).toContain('<option value="backup.done"');
  });

  it('when an edit is broken, then the previous templates stay in use and the error log names the file, the line and the problem', async () => {
    writeProgramAlert(dir, '[v2 {{upper level}}] {{title}}');
    expect(h.gateway.reloadTemplates()).toMatchObject({ ok: true });
    edit(dir, 'program.alert.yaml', '[v2 {{upper level}}] {{title}}', '[v3 {{upper level}}] {{#if title}}');
    const broken = h.gateway.reloadTemplates();
    expect(broken).toMatchObject({ ok: false, problems: [expect.stringContaining(`${join(dir, 'program.alert.yaml')}:`)] });
    expect(lastLog(50, /^templates not reloaded/)?.msg).toMatch(
      new RegExp(
        /^templates not reloaded \(the previous ones stay in use\): /.source +
          /.*program\.alert\.yaml:\d+: msgtypes\.text\.content: Parse error on line \d+:/.source,
        's',
      ),
    );
    expect(await previewText()).toBe('[v2 CRITICAL] Disk 95% on db1\n/var is almost full');

    edit(dir, 'program.alert.yaml', '[v3 {{upper level}}] {{#if title}}', '[v3 {{upper level}}] {{titel}}');
    expect(h.gateway.reloadTemplates()).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('{{titel}} is not declared under data:')],
    });
    expect(lastLog(50, /^templates not reloaded/)?.msg).toContain('{{titel}} is not declared');
    expect(await previewText()).toBe('[v2 CRITICAL] Disk 95% on db1\n/var is almost full');
  });

  it('when a welcome activity is edited, then the next new customer gets the new welcome, as the welcome worker renders it; a broken one keeps the previous', async () => {
    writeProgramAlert(dir);
    writeFileSync(join(dir, 'welcome', 'spring.yaml'), SPRING('春季活动 v2：{{employee.userId}}'));
    expect(h.gateway.reloadTemplates()).toMatchObject({ ok: true, activities: ['spring'] });
    const welcomeOf = async (customer: string) => {
      const code = h.sim.issueWelcomeCode();
      const push = encryptedPush(
        wecom,
        SIM_APP.corpId,
        eventXml({
          ...eventFields(SIM_APP.corpId, 'sys', 'change_external_contact'),
          ChangeType: 'add_external_contact',
          UserID: 'clerk01',
          ExternalUserID: customer,
          State: 'spring2026',
          WelcomeCode: code,
        }),
      );
      expect((await h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body)).status).toBe(200);
      return (await eventually(() => h.sim.welcomes.find((w) => w.welcomeCode === code))).body;
    };
    expect(await welcomeOf('wmReload1')).toMatchObject({ text: { content: '春季活动 v2：clerk01' } });

    // A good event edit beside a broken activity: nothing of a refused reload is taken.
    edit(dir, 'program.alert.yaml', SHIPPED_TEXT, '[v4 {{upper level}}] {{title}}');
    writeFileSync(join(dir, 'welcome', 'spring.yaml'), SPRING('{{employee.name}}'));
    expect(h.gateway.reloadTemplates()).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('{{employee.name}} is not declared')],
    });
    expect(await welcomeOf('wmReload2')).toMatchObject({ text: { content: '春季活动 v2：clerk01' } });
    expect(await previewText()).toBe('【CRITICAL】Disk 95% on db1\n/var is almost full');
    edit(dir, 'program.alert.yaml', '[v4 {{upper level}}] {{title}}', SHIPPED_TEXT);
    writeFileSync(join(dir, 'welcome', 'spring.yaml'), SPRING('春季活动 v2：{{employee.userId}}'));
  });

  it('when the folder holds no event template (a volume being remounted), then the previous templates stay', async () => {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) rmSync(join(dir, file));
    expect(h.gateway.reloadTemplates()).toMatchObject({ ok: false, problems: [expect.stringContaining('no event templates')] });
    expect(await previewText()).toBe('【CRITICAL】Disk 95% on db1\n/var is almost full');
  });
});

describe('SIGHUP to the running gateway', () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: build first (npx tsc -b tsconfig.build.json, npm test does)`);
    dir = templatesDir();
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('when node dist/src/main/server.js gets SIGHUP after an edit, then it keeps running and renders the new text; after a broken edit it keeps it and logs the problem; SIGTERM still stops it', async () => {
    child = spawn(process.execPath, [SERVER], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL: process.env.TEST_REDIS_URL,
        REDIS_PREFIX: uniquePrefix(),
        PORT: '0',
        SIMULATOR_PORT: '0',
        TEMPLATES_DIR: dir,
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const lines = () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>);
    const listening = await eventually(() => lines().find((l) => /listening on/.test(l.msg)), 20_000);
    const base = `http://127.0.0.1:${listening.port}`;
    const preview = async () => {
      const res = await fetch(`${base}/v1/messages/preview`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alert()),
      });
      return ((await res.json()) as any).payloads[0].text.content as string;
    };
    expect(await preview()).toBe('【CRITICAL】Disk 95% on db1\n/var is almost full');

    edit(dir, 'program.alert.yaml', SHIPPED_TEXT, '[hup {{upper level}}] {{title}}');
    child.kill('SIGHUP');
    await eventually(() => lines().find((l) => /^templates reloaded/.test(l.msg)), 10_000);
    expect(await preview()).toBe('[hup CRITICAL] Disk 95% on db1\n/var is almost full');

    edit(dir, 'program.alert.yaml', '[hup {{upper level}}] {{title}}', '[broken {{#if title}}');
    child.kill('SIGHUP');
    const error = await eventually(() => lines().find((l) => l.level === 50 && /^templates not reloaded/.test(l.msg)), 10_000);
    expect(error.msg).toContain('program.alert.yaml');
    expect(child.exitCode).toBeNull();
    expect(await preview()).toBe('[hup CRITICAL] Disk 95% on db1\n/var is almost full');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 40_000);
});
