import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { alert, finalStatus, listen, startHarness, type Harness } from '../support/harness';

const ADMIN = 'admin-key-0001-long';
/** A name that is not loopback, as a gateway on the office network is reached; Chromium resolves it to 127.0.0.1. */
const LAN_HOST = 'gateway.lan';
/** The page's window as far as a test reads it (the tests compile without the DOM's types). */
type Browserish = { getComputedStyle(element: unknown): { position: string } };

describe('dashboard in a real headless Chromium', () => {
  let h: Harness;
  let served: Awaited<ReturnType<typeof listen>>;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_API_KEYS: `${ADMIN},reader-key-01-long:read` } });
    served = await listen(h.gateway.app);
    base = served.base;
    browser = await launchChromium([`--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await h?.close();
  });

  it('when an admin opens it, then it loads and lists a sent message with its status', async () => {
    const sent = await h.api
      .post('/v1/messages')
      .set('Authorization', `Bearer ${ADMIN}`)
      .send(alert({ data: { title: 'dashboard check', content: 'c', level: 'info' } }));
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

  it('when console pages, bull-board and /docs are answered, then nothing tells the browser to switch to https (the TLS proxy in front adds HSTS)', async () => {
    for (const path of ['/dashboard/', '/dashboard/messages', '/dashboard/assets/console.css', '/dashboard/queues/', '/docs/']) {
      const res = await h.api.get(path).set('Authorization', `Bearer ${ADMIN}`);
      expect([path, res.status]).toEqual([path, 200]);
      expect([path, res.headers['strict-transport-security']]).toEqual([path, undefined]);
      expect([path, res.headers['content-security-policy'] ?? '']).not.toEqual([
        path,
        expect.stringContaining('upgrade-insecure-requests'),
      ]);
    }
    // The console keeps the rest of helmet's policy, scripts from the gateway only, and takes styles and fonts from nowhere else (no CDN).
    const csp = (await h.api.get('/dashboard/queues/').set('Authorization', `Bearer ${ADMIN}`)).headers[
      'content-security-policy'
    ] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp.split(';').filter((d) => / https:/.test(d))).toEqual([]);
  });

  it('when an admin opens the console over plain http by a name that is not loopback, then its stylesheets and scripts load and apply, bull-board too', async () => {
    const port = new URL(base).port;
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN } });
    const page = await context.newPage();
    const own = `http://${LAN_HOST}:${port}/`;
    const failed: string[] = [];
    page.on('requestfailed', (r) => void (r.url().startsWith(own) && failed.push(`${r.url()} ${r.failure()?.errorText}`)));
    page.on('request', (r) => void (r.url().startsWith(`https://${LAN_HOST}`) && failed.push(`upgraded: ${r.url()}`)));
    // bull-board links Google Fonts: the CSP keeps that from leaving (the console works offline).
    page.on(
      'requestfinished',
      (r) => void (!r.url().startsWith(own) && !r.url().startsWith('data:') && failed.push(`fetched elsewhere: ${r.url()}`)),
    );
    expect((await page.goto(`http://${LAN_HOST}:${port}/dashboard/`, { waitUntil: 'load' }))?.status()).toBe(200);
    expect(failed).toEqual([]);
    await page.locator('[data-series][data-drawn]').waitFor({ timeout: 10_000 }); // overview.js and uPlot ran
    // console.css applied: the header sticks to the top.
    expect(await page.locator('header').evaluate((el) => (globalThis as unknown as Browserish).getComputedStyle(el).position)).toBe(
      'sticky',
    );
    await page.goto(`http://${LAN_HOST}:${port}/dashboard/queues/`);
    await page.getByText('send', { exact: true }).first().waitFor({ timeout: 15_000 });
    expect(failed).toEqual([]);
    await context.close();
  }, 60_000);
});
