import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { amAlert, amPayload, startAlertmanager, startCardGateway, type Alertmanager } from '../support/alertmanager';
import { eventually } from '../support/harness';
import { launchChromium } from '../support/browser';

const ADMIN = 'admin-key-0001-long';
/** Where the pictures go (the README's are copies of these): TEST_OUTPUT_DIR, or a temporary folder. */
const OUTPUT = process.env.TEST_OUTPUT_DIR ?? join(tmpdir(), 'wgw-test-output');

describe('an alert card on the dashboard, before and after a click (real Chromium, real Alertmanager)', () => {
  let am: Alertmanager;
  let gw: Awaited<ReturnType<typeof startCardGateway>>;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    am = await startAlertmanager();
    gw = await startCardGateway(am.port, { GATEWAY_API_KEYS: ADMIN });
    base = gw.base;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await am?.stop();
  });

  async function cardOnDashboard(page: Page, alert: string) {
    // The alert's own page: its facts, timeline and latest card (the list links to it).
    await page.goto(`${base}/dashboard/alerts/${alert}`);
    const card = page.locator(`[data-alert="${alert}"] .card`);
    await card.waitFor();
    return card;
  }

  it('when a member silences the alert from its card, then the dashboard shows the card with its buttons, then greyed with who silenced it', async () => {
    const alerts = ['db1', 'db2', 'db3'].map((host, i) =>
      amAlert({
        fingerprint: `e${i}`,
        labels: { alertname: 'DiskFull', severity: 'critical', instance: `${host}:9100` },
        annotations: { summary: `Disk 9${5 - i}% full on ${host}`, runbook_url: 'https://runbooks.example/disk-full' },
      }),
    );
    const res = await gw.h.api
      .post('/v1/integrations/alertmanager?users=zhangsan,lisi')
      .set('Authorization', `Bearer ${ADMIN}`)
      .send(amPayload({ groupKey: 'e2e', alerts }));
    expect(res.status).toBe(202);
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: ADMIN },
      viewport: { width: 1000, height: 800 },
      deviceScaleFactor: 2,
    });
    const page = await context.newPage();

    const before = await cardOnDashboard(page, res.body.alert);
    expect(await before.locator('.button').allTextContents()).toEqual(['认领', '静默 1h', '静默 4h', '来源', '处理手册']);
    expect(await page.locator(`[data-alert="${res.body.alert}"] .state`).textContent()).toBe('firing');
    // Since the alerts' first startsAt (02:00 UTC, 10:00 in Shanghai), with the date: it is not today.
    expect(await page.locator(`[data-alert="${res.body.alert}"] .when`).textContent()).toMatch(/^since (2026-)?11-24 10:00$/);
    await before.screenshot({ path: join(OUTPUT, 'alert-card-before.png') });

    const card = await eventually(() => gw.h.sim.cards[0]);
    await gw.h.sim.click({ user: 'zhangsan', key: 'silence:1h', taskId: card.taskId });
    await eventually(
      async () =>
        (await gw.h.api.get(`/v1/alerts/${res.body.alert}`).set('Authorization', `Bearer ${ADMIN}`)).body.status === 'silenced' ||
        undefined,
    );

    const after = await cardOnDashboard(page, res.body.alert);
    expect(await after.locator('.button').allTextContents()).toEqual(['已静默 1h · zhangsan']);
    expect(await page.locator(`[data-alert="${res.body.alert}"] .state`).textContent()).toMatch(
      /^silenced; silence created by zhangsan for 1h/,
    );
    await after.screenshot({ path: join(OUTPUT, 'alert-card-after.png') });
    await context.close();
  }, 60_000);
});
