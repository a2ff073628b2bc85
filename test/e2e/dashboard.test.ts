import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { alert, finalStatus, listen, startHarness, type Harness } from '../support/harness';

const ADMIN = 'admin-key-0001-long';

describe('dashboard in a real headless Chromium', () => {
  let h: Harness;
  let served: Awaited<ReturnType<typeof listen>>;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_API_KEYS: `${ADMIN},reader-key-01-long:read` } });
    served = await listen(h.gateway.app);
    base = served.base;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await h?.close();
  });

  it('when an admin opens it, then it loads and lists a sent message with its status', async () => {
    const sent = await h.api.post('/v1/messages').set('Authorization', `Bearer ${ADMIN}`).send(alert({ data: { title: 'dashboard check', content: 'c', level: 'info' } }));
    await finalStatus(h.api, sent.body.id, 10_000, ADMIN);
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN } });
    const page = await context.newPage();
    const response = await page.goto(`${base}/dashboard/`);
    expect(response?.status()).toBe(200);
    const row = page.locator('tr', { hasText: sent.body.id });
    await row.waitFor();
    expect(await row.locator('.status').textContent()).toBe('sent');
    await page.click('text=Queues');
    await page.waitForURL(/\/dashboard\/queues/);
    await page.getByText('send', { exact: true }).first().waitFor({ timeout: 15_000 });
    await context.close();
  }, 60_000);

  it('when opened without a key or with a key lacking admin, then it refuses', async () => {
    const anonymous = await browser.newContext();
    const page = await anonymous.newPage();
    // Chromium answers a Basic challenge it has no credentials for by failing the navigation.
    await expect(page.goto(`${base}/dashboard/`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    const direct = await anonymous.request.get(`${base}/dashboard/`);
    expect(direct.status()).toBe(401);
    expect(direct.headers()['www-authenticate']).toMatch(/^Basic/);
    expect(await direct.text()).not.toContain('<table>');
    await anonymous.close();
    const reader = await browser.newContext({ httpCredentials: { username: 'ops', password: 'reader-key-01-long' } });
    expect((await (await reader.newPage()).goto(`${base}/dashboard/`))?.status()).toBe(403);
    await reader.close();
  }, 30_000);

  it('when /docs is opened on whatever port the gateway got, then Try it out calls that same server', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/docs/`);
    await page.locator('.opblock-summary', { hasText: '/healthz' }).click();
    await page.getByRole('button', { name: 'Try it out' }).click();
    await page.getByRole('button', { name: 'Execute' }).click();
    const requestUrl = page.locator('.request-url pre');
    await requestUrl.waitFor();
    expect(await requestUrl.textContent()).toBe(`${base}/healthz`);
    const status = page.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor();
    expect((await status.textContent())?.trim()).toBe('200');
    await page.close();
  }, 30_000);
});
