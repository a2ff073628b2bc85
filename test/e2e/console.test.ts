import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { STRINGS } from '../../src/console/strings';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { launchChromium } from '../support/browser';
import { alert, eventually, finalStatus, listen, SIM_APP, startHarness, type Harness } from '../support/harness';
import { encryptedPush, eventFields, eventXml } from '../support/wecom-push';

const ADMIN = 'admin-key-0001-long';
const ROBOT_KEY = '00000000-0000-4000-8000-00000000c0de';
const TOKEN = 'consoleToken01';
const AES_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg';
/** Where the pictures go (the README's are copies of these): TEST_OUTPUT_DIR, or a temporary folder. */
const OUTPUT = process.env.TEST_OUTPUT_DIR ?? join(tmpdir(), 'wgw-test-output');

/** A contact-sync receiver that refuses (400) until told otherwise. */
function refusingSink() {
  const state = { refuse: true, received: [] as string[] };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (state.refuse) return void res.writeHead(400).end('schema mismatch');
      state.received.push(raw);
      res.writeHead(200).end();
    });
  });
  return { state, server };
}

describe('the operators’ console in a real headless Chromium', () => {
  let h: Harness;
  let served: Awaited<ReturnType<typeof listen>>;
  let sink: ReturnType<typeof refusingSink>;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    sink = refusingSink();
    await new Promise<void>((r) => sink.server.listen(0, '127.0.0.1', () => r()));
    h = await startHarness({
      env: {
        GATEWAY_API_KEYS: ADMIN,
        WECOM_ROBOTS: `ops=${ROBOT_KEY}`,
        WECOM_CALLBACK_TOKEN: TOKEN,
        WECOM_CALLBACK_AES_KEY: AES_KEY,
        CONTACT_SYNC_WEBHOOK_URL: `http://127.0.0.1:${(sink.server.address() as { port: number }).port}/changes`,
        CONTACTS_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      },
      simulator: { robotKeys: [ROBOT_KEY], directory: { users: ['zhangsan', 'lisi', 'wangwu'] } },
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
    sink?.server.closeAllConnections();
    await new Promise((r) => sink?.server.close(r));
  });

  const send = async (body: Record<string, unknown>) => {
    const res = await h.api.post('/v1/messages').set('Authorization', `Bearer ${ADMIN}`).send(body);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  /** Every page the console serves loads without a script error or a refused resource (helmet's CSP). */
  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    (page as Page & { problems: string[] }).problems = problems;
    const res = await page.goto(`${base}/dashboard${path}`);
    expect(res?.status()).toBe(200);
    return page;
  }
  const problemsOf = (page: Page) => (page as Page & { problems: string[] }).problems;

  it('when messages have flowed, then the overview charts the last hour by event, errcode, queue and welcome window, with no script error', async () => {
    h.sim.failNext(1, { errcode: 60020, errmsg: 'not allow to access from your ip' });
    const failed = await send(alert({ data: { title: 'overview failed', content: 'c', level: 'warning' } }));
    // The fault hits whichever send comes first: the second message is queued only once the first has failed.
    expect((await finalStatus(h.api, failed, 10_000, ADMIN)).status).toBe('failed');
    const sent = await send({
      event: 'deploy.finished',
      to: { users: ['zhangsan'] },
      data: { service: 'api', version: '1.4.2', environment: 'prod', status: 'succeeded' },
    });
    expect((await finalStatus(h.api, sent, 10_000, ADMIN)).status).toBe('sent');
    const page = await open('/');
    await page.locator('[data-series][data-drawn]').waitFor();
    expect(await page.locator('figure.chart .uplot').count()).toBe(4);
    const legend = (id: string) => page.locator(`#chart-${id} .u-legend .u-series .u-label`).allTextContents();
    expect(await legend('messages')).toEqual(
      expect.arrayContaining(['accepted · program.alert', 'failed · program.alert', 'sent · deploy.finished']),
    );
    expect(await legend('errcodes')).toContain('60020');
    expect(await legend('queues')).toContain('send');
    expect(await legend('welcome')).toEqual(expect.arrayContaining(['p50', 'p99', '20 s window']));
    const series = await (await context.request.get(`${base}/dashboard/series.json`)).json();
    expect(series.messages['failed · program.alert'].reduce((a: number, b: number) => a + b, 0)).toBe(1);
    expect(series.minutes).toHaveLength(60);
    expect(problemsOf(page)).toEqual([]);
    await page.screenshot({ path: join(OUTPUT, 'console-overview.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('when an operator filters by status, event and recipient, then only those messages are listed', async () => {
    const toLisi = await send(alert({ to: { users: ['lisi'] }, data: { title: 'for lisi', content: 'c', level: 'info' } }));
    await finalStatus(h.api, toLisi, 10_000, ADMIN);
    h.sim.failNext(1, { errcode: 60020, errmsg: 'not allow to access from your ip' });
    const failed = await send(alert({ to: { users: ['wangwu'] }, data: { title: 'will fail', content: 'c', level: 'info' } }));
    expect((await finalStatus(h.api, failed, 10_000, ADMIN)).status).toBe('failed');
    const page = await open('/messages');
    await page.selectOption('select[name=status]', 'failed');
    await page.click('button:text("Filter")');
    await page.waitForURL(/status=failed/);
    const statuses = await page.locator('tbody tr .status').allTextContents();
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['failed']));
    expect(await page.locator(`tr:has-text("${failed}")`).count()).toBe(1);

    await page.goto(`${base}/dashboard/messages?recipient=lisi&event=program.alert`);
    const ids = await page.locator('tbody tr td:first-child code').allTextContents();
    expect(ids).toContain(toLisi);
    expect(ids).not.toContain(failed);
    await page.goto(`${base}/dashboard/messages?recipient=nobody-here`);
    expect(await page.locator('td.empty').textContent()).toBe('No messages match.');
    await page.close();
  }, 60_000);

  it('when a message was retried and WeCom named invalid recipients, then its page shows the preview, payload, attempts with hint, invalid members, and recalls it', async () => {
    h.sim.failNext(1, { errcode: -1, errmsg: 'system busy' });
    const id = await send(
      alert({
        to: { users: ['zhangsan', 'ghost01'] },
        msgtype: 'markdown',
        data: { title: 'Disk 95% on db1', content: '/var is almost full', level: 'critical' },
      }),
    );
    expect((await finalStatus(h.api, id, 10_000, ADMIN)).status).toBe('sent');
    const page = await open(`/messages/${id}`);
    expect(await page.locator('.wecom-preview .markdown b').first().textContent()).toBe('Disk 95% on db1');
    expect(await page.locator('.wecom-preview .font-warning').textContent()).toBe('critical');
    const payload = JSON.parse((await page.locator('pre.payload').first().textContent())!);
    expect(payload).toMatchObject({ touser: 'zhangsan|ghost01', msgtype: 'markdown', agentid: SIM_APP.agentId });
    const attempts = page.locator('section:has(h2:text("Attempts")) tbody tr');
    expect(await attempts.count()).toBe(2);
    expect(await attempts.nth(0).locator('.status').textContent()).toBe('retry');
    expect(await attempts.nth(0).locator('td').nth(6).textContent()).toBe('-1');
    expect(await attempts.nth(1).locator('.status').textContent()).toBe('sent');
    expect(await page.locator('.invalid').textContent()).toContain('ghost01');
    await page.screenshot({ path: join(OUTPUT, 'console-message.png'), fullPage: true });

    const { msgid } = (await h.api.get(`/v1/messages/${id}`).set('Authorization', `Bearer ${ADMIN}`)).body;
    await page.click('button:text("Recall")');
    await page.locator('.notice').waitFor();
    expect(await page.locator('.notice').textContent()).toBe('recalled: recalled · part 1 (members): recalled');
    expect(await page.locator('dl.facts .status').textContent()).toBe('recalled');
    expect(h.sim.sent.find((m) => m.msgid === msgid)?.recalled).toBe(true);
    expect(problemsOf(page)).toEqual([]);
    await page.close();
  }, 60_000);

  it('when a sink refused a change, then the sync page lists the dead letter and Replay sends it again', async () => {
    const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
    const push = encryptedPush(
      wecom,
      SIM_APP.corpId,
      eventXml({
        ...eventFields(SIM_APP.corpId, 'sys', 'change_contact', 1_700_000_123_000),
        ChangeType: 'create_user',
        UserID: 'newbie',
        Name: 'Newbie',
      }),
    );
    expect((await h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body)).status).toBe(200);
    const page = await open('/sync');
    const letter = await eventually(
      async () => {
        await page.reload();
        return (await page.locator('tr[data-change]').count()) > 0 ? page.locator('tr[data-change]').first() : undefined;
      },
      20_000,
      200,
    );
    expect(await letter.textContent()).toContain('user created');
    expect(await letter.textContent()).not.toContain('Newbie'); // no member's data on the page
    // the console's one time convention
    expect(await letter.locator('td').first().textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const changeId = await letter.getAttribute('data-change');
    sink.state.refuse = false;
    await letter.locator('button:text("Replay")').click();
    await page.locator('.notice').waitFor();
    expect(await page.locator('.notice').textContent()).toBe(`change ${changeId} is back in default's line`);
    await eventually(() => sink.state.received.some((r) => r.includes('newbie')) || undefined, 10_000);
    await page.reload();
    expect(await page.locator('tr[data-change]').count()).toBe(0);
    expect(problemsOf(page)).toEqual([]);
    await page.close();
  }, 60_000);

  it('when a page on another site posts to a console action, then it is refused', async () => {
    const res = await h.api
      .post('/dashboard/playground/send')
      .set('Authorization', `Bearer ${ADMIN}`)
      .set('Origin', 'https://evil.example')
      .send({ event: 'program.alert', msgtype: 'text', data: {}, recipient: 'zhangsan' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('cross_site');
  });

  it('when an admin edits data in the playground, then the preview and payload follow, errors name the field, and only Send sends, to the test recipient', async () => {
    const before = h.sim.sent.length;
    const page = await open('/playground');
    await page.selectOption('select[name=event]', 'program.alert');
    await page.selectOption('select[name=msgtype]', 'textcard');
    const data = page.locator('textarea[name=data]');
    await data.fill(JSON.stringify({ title: 'Disk 95% on db1', content: '/var is almost full' }));
    await page.locator('#errors .field').waitFor();
    expect(await page.locator('#errors .field').allTextContents()).toContain('data.level');

    await data.fill(JSON.stringify({ title: 'Disk 95% on db1', content: '/var is almost full', level: 'critical' }, null, 2));
    await page.locator('#preview .textcard .title:text("[CRITICAL] Disk 95% on db1")').waitFor();
    expect(await page.locator('#preview .tc-highlight').textContent()).toBe('/var is almost full');
    expect(JSON.parse((await page.locator('#payload pre').first().textContent())!)).toMatchObject({
      msgtype: 'textcard',
      textcard: { title: '[CRITICAL] Disk 95% on db1' },
    });
    expect(await page.locator('#errors').textContent()).toBe('');
    await page.screenshot({ path: join(OUTPUT, 'playground.png'), fullPage: true });

    await page.selectOption('select[name=robot]', 'ops');
    await page.locator('#preview .meta:text("robot ops")').waitFor();
    expect(JSON.parse((await page.locator('#payload pre').first().textContent())!)).toMatchObject({ msgtype: 'markdown' });
    await page.selectOption('select[name=robot]', '');
    await page.locator('#preview .textcard').waitFor();
    expect(h.sim.sent.length).toBe(before); // rendering sent nothing

    await page.click('#send');
    await page.locator('#errors .field:text("recipient")').waitFor();
    await page.fill('input[name=recipient]', 'lisi');
    await page.click('#send');
    const link = page.locator('#sent a');
    await link.waitFor();
    const id = (await link.textContent())!.replace('queued ', '');
    expect((await finalStatus(h.api, id, 10_000, ADMIN)).status).toBe('sent');
    const delivered = h.sim.sent.slice(before);
    expect(delivered).toHaveLength(1);
    expect(delivered[0].body).toMatchObject({ touser: 'lisi', msgtype: 'textcard' });
    // Data that does not render is answered 422, which Chromium logs; nothing else may go wrong.
    expect(problemsOf(page).filter((p) => !p.includes('status of 422'))).toEqual([]);
    await page.close();
  }, 60_000);

  /** A page of the console in a context of its own (a language, a time zone), with what went wrong on it. */
  async function openIn(other: BrowserContext, path: string): Promise<Page & { problems: string[] }> {
    const page = Object.assign(await other.newPage(), { problems: [] as string[] });
    page.on('pageerror', (err) => page.problems.push(err.message));
    page.on('console', (m) => void (m.type() === 'error' && page.problems.push(m.text())));
    expect((await page.goto(`${base}/dashboard${path}`))?.status()).toBe(200);
    return page;
  }
  const credentials = { username: 'ops', password: ADMIN };
  /** The console's English words of two or more, as a Chinese page must not show them (placeholders cut out). */
  const ENGLISH_LINES = Object.entries(STRINGS.en)
    .filter(([key, english]) => english !== STRINGS.zh[key as keyof typeof STRINGS.en])
    .flatMap(([, english]) => english.split(/\{\w+\}/))
    .map((part) => part.trim())
    .filter((part) => /^[A-Za-z][a-z]+ [a-z]+/.test(part));

  it('when the browser speaks Chinese, then every console page and its scripts speak Chinese; an English browser gets English; ?lang= switches and sticks', async () => {
    const zh = await browser.newContext({ locale: 'zh-CN', httpCredentials: credentials });
    const headings: Record<string, string> = {
      '/': '概览',
      '/messages': '消息',
      '/alerts': '告警分组',
      '/alert-playground': '告警调试台',
      '/sync': '通讯录同步',
      '/playground': '模板调试台',
    };
    for (const [path, heading] of Object.entries(headings)) {
      const page = await openIn(zh, path);
      expect([path, await page.locator('h1').textContent()]).toEqual([path, heading]);
      expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
      expect(await page.locator('nav').textContent()).toContain('概览');
      if (path === '/') {
        await page.locator('[data-series][data-drawn]').waitFor();
        expect(await page.locator('#chart-welcome .u-legend .u-label').allTextContents()).toContain('20 秒时限');
      }
      if (path === '/playground') await page.locator('#preview .meta:text("应用消息")').waitFor();
      if (path === '/alert-playground') await page.locator('#routed:has-text("事件 alert.notification")').waitFor();
      // No English line of the console's left on the page (what messages carry, payloads and names aside).
      const shown = await page.locator('body').evaluate((body) => {
        const copy = body.cloneNode(true) as typeof body;
        copy.querySelectorAll('pre, code, textarea, option, .wecom-preview, .card').forEach((n: { remove(): void }) => n.remove());
        return copy.textContent ?? '';
      });
      expect([path, ENGLISH_LINES.filter((line) => shown.includes(line))]).toEqual([path, []]);
      expect([path, page.problems]).toEqual([path, []]);
      await page.close();
    }
    await zh.close();

    const en = await browser.newContext({ locale: 'en-US', httpCredentials: credentials });
    const page = await openIn(en, '/sync');
    expect(await page.locator('h1').textContent()).toBe('Contact sync');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.click('a[hreflang=zh]');
    await page.waitForURL(/lang=zh/);
    expect(await page.locator('h1').textContent()).toBe('通讯录同步');
    await page.goto(`${base}/dashboard/messages?status=sent`);
    expect(await page.locator('h1').textContent()).toBe('消息'); // the choice is kept
    await page.goto(`${base}/dashboard/queues/`);
    await page.getByText('队列', { exact: true }).first().waitFor({ timeout: 15_000 }); // bull-board follows it too
    await page.goto(`${base}/dashboard/messages?status=sent`);
    await page.click('a[hreflang=en]');
    await page.waitForURL(/status=sent/); // switching keeps the filter
    expect(await page.locator('h1').textContent()).toBe('Messages');
    await en.close();
  }, 60_000);

  it('when charts and tables show times, then they are 24-hour in ALERT_TIMEZONE (Asia/Shanghai here), whatever the browser’s zone and language, and the page says so', async () => {
    const id = await send(alert({ data: { title: 'a time to show', content: 'c', level: 'info' } }));
    await finalStatus(h.api, id, 10_000, ADMIN);
    const { createdAt } = (await h.api.get(`/v1/messages/${id}`).set('Authorization', `Bearer ${ADMIN}`)).body;
    const inShanghai = (at: number | string, options: Intl.DateTimeFormatOptions) =>
      new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', hourCycle: 'h23', ...options }).format(new Date(at));
    const la = await browser.newContext({ locale: 'en-US', timezoneId: 'America/Los_Angeles', httpCredentials: credentials });

    const list = await openIn(la, '/messages');
    expect(await list.locator('header .times').textContent()).toBe('Times in Asia/Shanghai, 24-hour');
    const accepted = list.locator(`tr:has-text("${id}") td`).nth(8);
    expect(await accepted.textContent()).toBe(inShanghai(createdAt, { dateStyle: 'short', timeStyle: 'medium' }));

    const overview = await openIn(la, '/');
    await overview.locator('[data-series][data-drawn]').waitFor();
    const { minutes } = await (await la.request.get(`${base}/dashboard/series.json`)).json();
    const stamps = [minutes[0], minutes[17], minutes[59]];
    // The labels the x axis draws on its canvas, from the axis' own formatter.
    const labels = await overview.locator('#chart-messages').evaluate((figure, at) => {
      const plot = (figure as unknown as { plot: { axes: { values: (u: unknown, splits: number[]) => string[] }[] } }).plot;
      return plot.axes[0].values(plot, at);
    }, stamps);
    expect(labels).toEqual(stamps.map((s: number) => inShanghai(s * 1000, { timeStyle: 'short' })));
    // The legend names the minute under the cursor the same way.
    const over = overview.locator('#chart-messages .u-over');
    const box = (await over.boundingBox())!;
    await overview.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    const legend = await overview.locator('#chart-messages .u-legend .u-series').first().locator('.u-value').textContent();
    expect(legend).toBe(inShanghai(minutes[59] * 1000, { dateStyle: 'short', timeStyle: 'short' }));
    expect([...list.problems, ...overview.problems]).toEqual([]);
    await la.close();
  }, 60_000);
});
