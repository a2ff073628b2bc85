import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort } from '../../src/redis/embedded-redis';
import { CARD_AES_KEY, CARD_TOKEN } from '../support/alertmanager';
import { launchChromium } from '../support/browser';
import { listen, startHarness, type Harness } from '../support/harness';

const ADMIN = 'admin-key-0001-long';
const ROBOT_KEY = '00000000-0000-4000-8000-00000000a1e7';
/** Where the pictures go (the README's are copies of these): TEST_OUTPUT_DIR, or a temporary folder. */
const OUTPUT = process.env.TEST_OUTPUT_DIR ?? join(tmpdir(), 'wgw-test-output');

type Payload = Record<string, any>;

/** The five forms the oncall route renders: the card is sent to members (the others shown to compare), the robot gets the markdown. */
const ONCALL_FORMS = [
  'members · template_card · sent',
  'members · markdown',
  'members · text',
  'members · textcard',
  'robot ops · markdown · sent',
];

describe('the alert playground in a real headless Chromium', () => {
  let h: Harness;
  let served: Awaited<ReturnType<typeof listen>>;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    h = await startHarness({
      env: {
        GATEWAY_API_KEYS: ADMIN,
        WECOM_ROBOTS: `ops=${ROBOT_KEY}`,
        // The app's callback and an Alertmanager for silences: members are offered the card. Nothing here talks to it.
        WECOM_CALLBACK_TOKEN: CARD_TOKEN,
        WECOM_CALLBACK_AES_KEY: CARD_AES_KEY,
        ALERTMANAGER_URL: `http://127.0.0.1:${await freePort()}`,
      },
      config: (c) => ({
        ...c,
        alerts: {
          ...c.alerts,
          routes: [
            {
              name: 'oncall',
              users: ['zhangsan', 'lisi'],
              robots: ['ops'],
              mentions: { users: ['zhangsan'] },
              match: { labels: { severity: 'critical' } },
            },
          ],
        },
      }),
      simulator: { robotKeys: [ROBOT_KEY], directory: { users: ['zhangsan', 'lisi'] } },
    });
    served = await listen(h.gateway.app);
    base = served.base;
    browser = await launchChromium();
    context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN }, viewport: { width: 1280, height: 900 } });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await h?.close();
  });

  /** The page loads without a script error or a refused resource (helmet's CSP); `renders` counts its posts to the render endpoint. */
  async function open(): Promise<Page & { problems: string[]; renders: number }> {
    const page = Object.assign(await context.newPage(), { problems: [] as string[], renders: 0 });
    page.on('pageerror', (err) => page.problems.push(err.message));
    page.on('console', (m) => void (m.type() === 'error' && page.problems.push(m.text())));
    page.on(
      'request',
      (req) => void (req.method() === 'POST' && req.url().endsWith('/dashboard/alert-playground/render') && page.renders++),
    );
    const res = await page.goto(`${base}/dashboard/alert-playground`);
    expect(res?.status()).toBe(200);
    return page;
  }
  /** The form headed `title`, sent or shown to compare. */
  const form = (page: Page, title: string) =>
    page
      .locator('section.alert-form')
      .filter({ has: page.locator('h3', { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( · sent)?$`) }) });
  const payloadOf = async (page: Page, title: string): Promise<Payload> =>
    JSON.parse((await form(page, title).locator('pre.payload').textContent())!);
  const headings = (page: Page) => page.locator('section.alert-form h3').allTextContents();

  it('when an operator opens the alert playground, then the sample Alertmanager payload shows as the card (认领, 静默 1h, 静默 4h …), the markdown and the text, with no script error', async () => {
    const page = await open();
    await page.locator('#alert-playground[data-rendered]').waitFor();
    expect(await page.locator('nav a.active').textContent()).toBe('Alert playground');
    expect(await page.locator('select[name=route] option').allTextContents()).toEqual(['(the route that matches)', 'oncall']);
    expect(await page.locator('select[name=route]').inputValue()).toBe('');
    const sample = JSON.parse(await page.locator('textarea[name=payload]').inputValue());
    expect(sample).toMatchObject({ version: '4', status: 'firing', commonLabels: { alertname: 'DiskFull' } });
    expect(sample.alerts.map((a: Payload) => a.labels.instance)).toEqual(['db1:9100', 'db2:9100']);

    expect(await page.locator('#routed').textContent()).toMatch(/^route oncall \(matched\) · event alert\.notification · 5 forms$/);
    // The card is what members are sent (the others are shown to compare); the robot gets the markdown.
    expect(await headings(page)).toEqual(ONCALL_FORMS);

    const card = form(page, 'members · template_card');
    expect(await card.locator('.card .button').allTextContents()).toEqual(['认领', '静默 1h', '静默 4h', '来源', '处理手册']);
    expect(await card.locator('.card .source').textContent()).toBe('Alertmanager');
    expect(await card.locator('.card .item span').allTextContents()).toEqual(['db1:9100', 'db2:9100']);
    const cardPayload = await payloadOf(page, 'members · template_card');
    expect(cardPayload).toMatchObject({
      touser: 'zhangsan|lisi',
      msgtype: 'template_card',
      template_card: { card_type: 'button_interaction', main_title: { title: '🔥 [critical] DiskFull' } },
    });
    expect(cardPayload.template_card.button_list.map((b: Payload) => b.key ?? b.url)).toEqual([
      'ack',
      'silence:1h',
      'silence:4h',
      expect.stringMatching(/^http:\/\/prometheus\.example:9090\/graph/),
      'https://runbooks.example/disk-full',
    ]);

    const markdown = await payloadOf(page, 'members · markdown');
    expect(markdown).toMatchObject({ touser: 'zhangsan|lisi', msgtype: 'markdown' });
    expect(markdown.markdown.content.startsWith('**🔥 告警 DiskFull**')).toBe(true);
    expect(await form(page, 'members · markdown').locator('.wecom-preview .markdown b').first().textContent()).toBe('🔥 告警 DiskFull');
    const text = await payloadOf(page, 'members · text');
    expect(text.text.content).toMatch(/^🔥 告警 DiskFull \(2\)/);
    expect(text.text.content).toContain('DiskFull [critical] Disk 95% full on db1');
    expect(await form(page, 'members · text').locator('.wecom-preview .text').textContent()).toContain('Disk 91% full on db2');
    expect(await payloadOf(page, 'members · textcard')).toMatchObject({ msgtype: 'textcard', textcard: { title: '🔥 告警 DiskFull (2)' } });
    const robot = await payloadOf(page, 'robot ops · markdown');
    expect(robot.msgtype).toBe('markdown');
    expect(robot.markdown.content.startsWith('**🔥 告警 DiskFull**')).toBe(true);

    expect(await page.locator('#errors').textContent()).toBe('');
    expect(page.problems).toEqual([]);
    await page.screenshot({ path: join(OUTPUT, 'alert-playground.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('when the operator switches to Grafana and picks the route, then the card and the robot’s markdown follow', async () => {
    const page = await open();
    await page.locator('#alert-playground[data-rendered]').waitFor();
    await page.selectOption('select[name=source]', 'grafana');
    expect(JSON.parse(await page.locator('textarea[name=payload]').inputValue())).toMatchObject({
      orgId: 1,
      alerts: [
        {
          valueString: expect.stringContaining("var='A'"),
          panelURL: expect.any(String),
          silenceURL: expect.any(String),
          values: { A: 2.31 },
        },
      ],
    });
    // A warning matches no route: the page says so and shows the members' forms to a stand-in.
    await page.locator('section.alert-form .card .source:text-is("Grafana")').waitFor();
    expect(await page.locator('#routed').textContent()).toMatch(
      /^no route · event alert\.notification · 4 forms · no route matches: the webhook answers 503 \(unrouted\)/,
    );
    expect(await headings(page)).toEqual(['members · template_card', 'members · markdown', 'members · text', 'members · textcard']);
    expect(await payloadOf(page, 'members · template_card')).toMatchObject({
      touser: 'playground',
      template_card: { card_type: 'button_interaction' },
    });

    await page.selectOption('select[name=route]', 'oncall');
    await form(page, 'robot ops · markdown').waitFor();
    expect(await page.locator('#routed').textContent()).toBe('route oncall · event alert.notification · 5 forms');
    expect(await headings(page)).toEqual(ONCALL_FORMS);
    const card = form(page, 'members · template_card');
    // No Alertmanager takes Grafana's silences (GRAFANA_ALERTMANAGER_URL is not set): ack and the links only.
    expect(await card.locator('.card .button').allTextContents()).toEqual(['认领', '来源', 'Grafana', '处理手册']);
    expect(await card.locator('.card .title').textContent()).toBe('🔥 [warning] HighRequestLatency');
    const cardPayload = await payloadOf(page, 'members · template_card');
    expect(cardPayload).toMatchObject({
      touser: 'zhangsan|lisi',
      template_card: { card_type: 'button_interaction', source: { desc: 'Grafana' } },
    });
    expect(cardPayload.template_card.sub_title_text).toContain("var='A'");
    const robot = await payloadOf(page, 'robot ops · markdown');
    expect(robot.msgtype).toBe('markdown');
    expect(robot.markdown.content.startsWith('**🔥 告警 HighRequestLatency**')).toBe(true);
    expect(robot.markdown.content).toContain('https://grafana.example/d/api-latency?orgId=1&viewPanel=2');
    const links = await form(page, 'robot ops · markdown')
      .locator('.wecom-preview a')
      .evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
    expect(links).toEqual(
      expect.arrayContaining([
        ['处理手册', 'https://runbooks.example/high-latency'],
        ['静默', expect.stringMatching(/^https:\/\/grafana\.example\/alerting\/silence\/new\?/)],
      ]),
    );
    expect(links.map(([, href]) => href)).toContain('https://grafana.example/d/api-latency?orgId=1&viewPanel=2');

    await page.selectOption('select[name=source]', 'alertmanager');
    await page.locator('section.alert-form .card .source:text-is("Alertmanager")').waitFor();
    expect((await payloadOf(page, 'robot ops · markdown')).markdown.content.startsWith('**🔥 告警 DiskFull**')).toBe(true);
    expect(page.problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('when the payload lacks a field, then the error names it (payload.alerts.0.startsAt) and nothing is sent', async () => {
    const page = await open();
    await page.locator('#alert-playground[data-rendered]').waitFor();
    const box = page.locator('textarea[name=payload]');
    const sample = JSON.parse(await box.inputValue());
    delete sample.alerts[0].startsAt;
    await box.fill(JSON.stringify(sample, null, 2));
    await page.locator('#errors .field').waitFor();
    expect(await page.locator('#errors .field').allTextContents()).toEqual(['payload.alerts.0.startsAt']);
    expect(await page.locator('#errors').textContent()).toContain('invalid payload.alerts.0.startsAt');
    expect(await page.locator('section.alert-form').count()).toBe(0);
    expect(await page.locator('#routed').textContent()).toBe('');

    // Not JSON at all: said on the page, without asking the server.
    const asked = page.renders;
    await box.fill('{ "version": "4", ');
    await page.locator('#errors .field:text-is("payload")').waitFor();
    expect(await page.locator('#errors').textContent()).toMatch(/^payload is not JSON: /);
    await page.waitForTimeout(500);
    expect(page.renders).toBe(asked);

    expect(h.sim.sent).toEqual([]);
    // A 400 is logged by Chromium; nothing else may go wrong.
    expect(page.problems.filter((p) => !p.includes('status of 400'))).toEqual([]);
    await page.close();
  }, 60_000);

  it('when the render endpoint is asked of a route that does not exist, or from another site, then it answers 404 naming the route, or 403', async () => {
    const render = () => h.api.post('/dashboard/alert-playground/render').set('Authorization', `Bearer ${ADMIN}`);
    const unknown = await render().send({ source: 'alertmanager', route: 'nobody', payload: {} });
    expect(unknown.status).toBe(400); // the payload is checked first
    expect(unknown.body.error.fields.map((f: Payload) => f.field)).toContain('payload.version');
    const page = await open();
    const sample = JSON.parse(await page.locator('textarea[name=payload]').inputValue());
    await page.close();
    const missing = await render().send({ source: 'alertmanager', route: 'nobody', payload: sample });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'unknown_route', fields: [{ field: 'route', message: 'configured: oncall' }] });
    const crossSite = await render().set('Origin', 'https://evil.example').send({ source: 'alertmanager', payload: sample });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.code).toBe('cross_site');
    expect(h.sim.sent).toEqual([]);
  }, 30_000);
});
