import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort } from '../../src/redis/embedded-redis';
import { amAlert, amPayload, CARD_AES_KEY, CARD_TOKEN, startAlertmanager, type Alertmanager } from '../support/alertmanager';
import { launchChromium } from '../support/browser';
import { eventually, SIM_APP, startHarness, type Harness } from '../support/harness';

const ADMIN = 'admin-key-0001-long';
/** Where the pictures go (the README's are copies of these): TEST_OUTPUT_DIR, or a temporary folder. */
const OUTPUT = process.env.TEST_OUTPUT_DIR ?? join(tmpdir(), 'wgw-test-output');
const auth = { Authorization: `Bearer ${ADMIN}` };

describe("an alert's page: the console's list and page, and the members' page behind WeCom's web login (real Chromium)", () => {
  let am: Alertmanager;
  let h: Harness;
  let base: string;
  let server: { close(): void; closeAllConnections(): void };
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    am = await startAlertmanager();
    // PUBLIC_URL is where the gateway listens: the robot's link is opened as it is.
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    h = await startHarness({
      env: {
        GATEWAY_API_KEYS: ADMIN,
        WECOM_CALLBACK_TOKEN: CARD_TOKEN,
        WECOM_CALLBACK_AES_KEY: CARD_AES_KEY,
        ALERTMANAGER_URL: `http://127.0.0.1:${am.port}`,
        WECOM_ROBOTS: 'ops=page-robot-key',
        PUBLIC_URL: base,
      },
    });
    server = h.gateway.app.listen(port, '127.0.0.1');
    h.sim.deliverCallbacksTo({ url: `${base}/wecom/callback`, token: CARD_TOKEN, aesKey: CARD_AES_KEY, corpId: SIM_APP.corpId });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    server?.close();
    await h?.close();
    await am?.stop();
  });

  async function fire(name: string, severity: string, query: string): Promise<string> {
    const alerts = [amAlert({ fingerprint: name, labels: { alertname: name, severity, instance: `${name.toLowerCase()}1:9100` } })];
    const payload = amPayload({ groupKey: name, groupLabels: { alertname: name }, commonLabels: { alertname: name, severity }, alerts });
    const res = await h.api.post(`/v1/integrations/alertmanager?${query}`).set(auth).send(payload);
    expect(res.status).toBe(202);
    return res.body.alert as string;
  }
  const group = async (id: string) => (await h.api.get(`/v1/alerts/${id}`).set(auth)).body;

  it('when an operator filters the list and acks from the console page, then the timeline says so and the cards update at the simulator', async () => {
    const disk = await fire('DiskFull', 'critical', 'users=zhangsan,lisi');
    await fire('CpuHigh', 'warning', 'users=lisi');
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: ADMIN },
      viewport: { width: 1100, height: 900 },
    });
    const page = await context.newPage();

    await page.goto(`${base}/dashboard/alerts?severity=critical`);
    expect(await page.locator('tr[data-alert] td:first-child').allTextContents()).toEqual(['DiskFull']);
    await page.goto(`${base}/dashboard/alerts?alertname=CpuHigh&state=all`);
    expect(await page.locator('tr[data-alert] td:first-child').allTextContents()).toEqual(['CpuHigh']);

    await page.goto(`${base}/dashboard/alerts`);
    await page.locator(`tr[data-alert="${disk}"] a`).click();
    await page.locator('.timeline tr.notified').waitFor();
    expect(await page.locator('.timeline td.what').allTextContents()).toEqual(['fired', 'notified']);
    // The card went out: the message store says it was delivered.
    await eventually(async () => {
      await page.reload();
      return (await page.locator('.timeline tr.notified .status').textContent())?.includes('sent');
    });

    await page.fill('.action-assign input[name=by]', 'opsadmin');
    await page.fill('.action-assign input[name=to]', 'wangwu');
    await page.click('.action-assign button');
    expect(await page.locator('.notice').textContent()).toBe('Assigned to wangwu by opsadmin.');
    await page.fill('.action-ack input[name=by]', 'opsadmin');
    await page.click('.action-ack button');
    expect(await page.locator('.notice').textContent()).toBe('Acked by opsadmin.');
    expect(await page.locator('.facts .state').textContent()).toMatch(/^acked by opsadmin · assigned to wangwu by opsadmin/);
    const steps = await page.locator('.timeline td.what').allTextContents();
    // The assignee got the group's card: a notification of its own.
    expect(steps.slice(-3)).toEqual(['assigned · console', 'notified', 'acked · console']);

    // The card's recipients hear of it at the simulator: their card updated, or (its one send code spent) a message.
    const told = await eventually(() => {
      const card = h.sim.cards.find((c) => c.to.users.includes('zhangsan'))!;
      const messages = h.sim.sent.filter((m) => m.touser.includes('zhangsan') && m.msgtype !== 'template_card');
      return [...card.updates.slice(1), ...messages].map((m) => JSON.stringify(m)).find((m) => m.includes('已认领 · opsadmin'));
    });
    expect(told).toContain('opsadmin');
    expect((await group(disk)).acked.by).toBe('opsadmin');
    await page.screenshot({ path: join(OUTPUT, 'alert-page.png'), fullPage: true });
    await context.close();
  }, 60_000);

  it('when a member opens the robot message link, then WeCom web login names them and they ack as themselves', async () => {
    const id = await fire('QueueStuck', 'critical', 'users=zhangsan&robots=ops');
    const robot = await eventually(() => h.sim.robotSent.find((m) => JSON.stringify(m.body).includes(id)));
    const link = /\((http[^)]+\/alerts\/[0-9a-f]{20})\)/.exec(String(robot.body.content))![1];
    expect(link).toBe(`${base}/alerts/${id}`);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(link);
    // The simulator's authorize page: nobody is logged in there, so it asks who (any member: the alert went to a robot).
    expect(page.url()).toContain('/connect/oauth2/authorize?');
    await page.fill('input[name=userid]', 'wangwu');
    await page.click('button[type=submit]');
    await page.locator('.you').waitFor();
    expect(page.url()).toBe(link);
    expect(await page.locator('.you').textContent()).toBe('Logged in through WeCom as wangwu.');
    await page.click('.action-ack button');
    expect(await page.locator('.notice').textContent()).toBe('Acked by wangwu.');
    const acked = await group(id);
    expect(acked.acked.by).toBe('wangwu');
    expect(acked.timeline.at(-1)).toMatchObject({ kind: 'acked', by: 'wangwu', detail: 'page' });
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'wgw_member')).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/alerts' });
    await context.close();
  }, 60_000);

  it('when a code is used twice, or the session cookie is forged, or the post comes from another site, then nothing is acked', async () => {
    const id = await fire('LagHigh', 'warning', 'users=lisi');
    await fetch(`${h.sim.url}/__sim/oauth/login`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userid: 'lisi' }),
    });
    const start = await fetch(`${base}/alerts/${id}`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const state = /wgw_login=([0-9a-f]+)/.exec(start.headers.get('set-cookie') ?? '')![1];
    const authorize = new URL(start.headers.get('location')!);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      appid: SIM_APP.corpId,
      scope: 'snsapi_base',
      state,
      agentid: '1000002',
    });
    const back = await fetch(authorize, { redirect: 'manual' });
    const callback = back.headers.get('location')!;
    expect(callback).toMatch(new RegExp(`^${base}/alerts/${id}\\?code=`));

    const first = await fetch(callback, { redirect: 'manual', headers: { cookie: `wgw_login=${state}` } });
    expect(first.status).toBe(303);
    const session = /wgw_member=([^;]+)/.exec(first.headers.get('set-cookie') ?? '')![1];
    const again = await fetch(callback, { redirect: 'manual', headers: { cookie: `wgw_login=${state}` } });
    expect(again.status).toBe(403);
    expect(await again.text()).toContain('40029');
    // Another browser's state (a login started elsewhere, CSRF): refused before the code is spent.
    const otherState = await fetch(callback, { redirect: 'manual', headers: { cookie: 'wgw_login=0123456789abcdef' } });
    expect(otherState.status).toBe(403);

    const [payload] = session.split('.');
    const mallory = Buffer.from(JSON.stringify({ u: 'mallory', e: Date.now() + 3_600_000 })).toString('base64url');
    const forged = `${mallory}.${session.split('.')[1]}`;
    expect(payload).not.toBe(forged.split('.')[0]);
    const forgedRead = await fetch(`${base}/alerts/${id}`, { redirect: 'manual', headers: { cookie: `wgw_member=${forged}` } });
    expect(forgedRead.status).toBe(302);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const forgedAck = await fetch(`${base}/alerts/${id}/ack`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...form, cookie: `wgw_member=${forged}`, origin: base },
    });
    expect(forgedAck.status).toBe(303);
    const crossSite = await fetch(`${base}/alerts/${id}/ack`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...form, cookie: `wgw_member=${session}`, origin: 'http://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    expect((await group(id)).status).toBe('firing');

    const genuine = await fetch(`${base}/alerts/${id}/ack`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...form, cookie: `wgw_member=${session}`, origin: base },
    });
    expect(genuine.status).toBe(303);
    expect((await group(id)).acked.by).toBe('lisi');
  }, 60_000);
});
