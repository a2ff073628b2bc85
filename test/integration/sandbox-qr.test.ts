import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { loadConfig } from '../../src/config/load';
import { startSandbox } from '../../src/main/sandbox';
import { addContactWay as addWay, deleteContactWay as delWay, type ContactWayRequest } from '../../src/wecom/endpoints/externalcontact';
import { WecomSimulator } from '../../src/simulator/simulator';
import { eventually, SIM_APP, startHarness, type Harness } from '../support/harness';
import { asApp } from '../support/wecom-app';

const TOKEN = 'qrDemoToken1';
const AES_KEY = 'QrDemoKey0123456789abcdefghijklmnopqrstuvwx';

/** What a phone camera reads from the image: the PNG decoded, then the QR code in it. */
async function qrContent(url: string): Promise<{ contentType: string | null; text: string | undefined }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
  return { contentType: res.headers.get('content-type'), text: jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data };
}

const scan = (url: string, accept = 'application/json') => fetch(url, { headers: { accept } });

type App = { corpId: string; secret: string };

/** A 「联系我」 code made on the simulator as an app makes one (one member: type 1; several: type 2). */
async function addContactWay(sim: WecomSimulator, app: App, way: ContactWayRequest) {
  const outcome = await asApp(sim.url, app, addWay(way));
  if (outcome.kind !== 'ok') throw new Error(`add_contact_way: ${outcome.error.errcode} ${outcome.error.errmsg}`);
  return outcome.value;
}

const deleteContactWay = (sim: WecomSimulator, app: App, configId: string) => asApp(sim.url, app, delWay(configId));

describe('the sandbox QR demo', () => {
  let h: Harness;
  let server: Server;

  beforeAll(async () => {
    // The expo2026 demo is the sandbox's (templates/sandbox/welcome/): a gateway in sandbox mode loads it.
    h = await startHarness({
      env: { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY },
      config: (c) => ({ ...c, sandbox: true }),
    });
    server = h.gateway.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    h.sim.deliverCallbacksTo({ url: `http://127.0.0.1:${port}/wecom/callback`, token: TOKEN, aesKey: AES_KEY, corpId: SIM_APP.corpId });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  const expoWay = async () => {
    const res = await h.api.post('/v1/contact-ways').send({ activity: 'expo2026' });
    expect([200, 201]).toContain(res.status);
    return res.body as { configId: string; employee: string; qrCode: string };
  };

  it('when a QR code is made for expo2026, then its qr_code is a PNG whose QR code opens the scan URL', async () => {
    const way = await expoWay();
    expect(way.qrCode).toBe(`${h.sim.url}/__sim/qr/${way.configId}.png`);
    const { contentType, text } = await qrContent(way.qrCode);
    expect(contentType).toBe('image/png');
    expect(text).toBe(`${h.sim.url}/__sim/scan/${way.configId}`);
    expect(h.sim.scanUrl(way.configId)).toBe(text);
  });

  it('when the scan URL is opened, then the customer adds the employee, the expo welcome comes back in the answer, and the customer is tagged', async () => {
    const way = await expoWay();
    const res = await scan(h.sim.scanUrl(way.configId));
    expect(res.status).toBe(200);
    const outcome = (await res.json()) as Record<string, any>;
    expect(outcome).toMatchObject({
      configId: way.configId,
      state: 'expo2026',
      employee: way.employee,
      externalUserId: expect.stringMatching(/^wm[0-9a-f]{30}$/),
      callbackStatus: 200,
      welcome: {
        text: expect.stringContaining(`我是您的专属顾问 ${way.employee}`),
        attachments: [
          { msgtype: 'link', link: { title: '展会专享优惠券', url: `https://shop.example.com/coupon/expo2026?from=${way.employee}` } },
        ],
        afterMs: expect.any(Number),
      },
    });
    expect(outcome.welcome.afterMs).toBeLessThan(20_000);
    expect(h.sim.welcomes.find((w) => w.welcomeCode === outcome.welcomeCode)).toBeDefined();
    const mark = await eventually(() => h.sim.tagMarks.find((m) => m.external_userid === outcome.externalUserId));
    expect(mark).toEqual({ userid: way.employee, external_userid: outcome.externalUserId, add_tag: ['etExpo2026'] });
    const outcomes = (await h.api.get('/v1/welcome/outcomes')).body.outcomes as Record<string, unknown>[];
    expect(outcomes.find((o) => o.customer === outcome.externalUserId)).toMatchObject({
      outcome: 'sent',
      activity: 'expo2026',
      employee: way.employee,
    });
  });

  it('when a browser opens the scan URL, then it gets a phone-sized page in Chinese and English with the welcome and none of the callback keys', async () => {
    const way = await expoWay();
    const res = await scan(h.sim.scanUrl(way.configId), 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('name="viewport"');
    expect(html).toContain(`已添加 ${way.employee} 为联系人`);
    expect(html).toContain(`Added ${way.employee} as a contact`);
    expect(html).toContain(`我是您的专属顾问 ${way.employee}`);
    expect(html).toContain(`<a href="https://shop.example.com/coupon/expo2026?from=${way.employee}">展会专享优惠券</a>`);
    expect(html).not.toContain(TOKEN);
    expect(html).not.toContain(AES_KEY);
  });

  it('when a code with several members is scanned again and again, then its members take turns', async () => {
    const created = await addContactWay(h.sim, SIM_APP, { state: 'expo2026', users: ['sales01', 'sales02'] });
    expect(h.sim.contactWays.get(created.configId)?.body).toMatchObject({ type: 2, scene: 2 });
    const employees: string[] = [];
    for (let i = 0; i < 3; i++)
      employees.push(((await (await scan(h.sim.scanUrl(created.configId))).json()) as { employee: string }).employee);
    expect(employees).toEqual(['sales01', 'sales02', 'sales01']);
  });

  it('when the config id is unknown or the code was deleted, then the image and the scan answer 404', async () => {
    expect((await fetch(`${h.sim.url}/__sim/qr/0123456789abcdef.png`)).status).toBe(404);
    expect((await scan(`${h.sim.url}/__sim/scan/0123456789abcdef`)).status).toBe(404);
    const created = await addContactWay(h.sim, SIM_APP, { state: 'expo2026', users: ['sales01'] });
    expect((await fetch(created.qrCode)).status).toBe(200);
    expect(await deleteContactWay(h.sim, SIM_APP, created.configId)).toMatchObject({ kind: 'ok' });
    expect((await fetch(created.qrCode)).status).toBe(404);
    const res = await scan(h.sim.scanUrl(created.configId));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/deleted/);
  });
});

describe('the simulator without a gateway to push to', () => {
  let sim: WecomSimulator;
  beforeAll(async () => {
    sim = await WecomSimulator.start({ apps: [SIM_APP] });
  });
  afterAll(() => sim.stop());

  it('when nothing told it the callback target, then a scan answers 409 saying so, and no WelcomeCode is spent', async () => {
    const created = await addContactWay(sim, SIM_APP, { state: 'expo2026', users: ['sales01'] });
    const res = await scan(sim.scanUrl(created.configId));
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toMatch(/does not know where the gateway's callback is/);
    const page = await scan(sim.scanUrl(created.configId), 'text/html');
    expect(page.status).toBe(409);
    expect(await page.text()).toContain('does not know where the gateway&#39;s callback is');
    expect(sim.welcomeCodes.size).toBe(0);
  });
});

describe('SIMULATOR_PUBLIC_URL', () => {
  it("when it is set, then the sandbox's QR codes point there, so a phone on the LAN can open them", async () => {
    const sandbox = await startSandbox(loadConfig({ SIMULATOR_PUBLIC_URL: 'http://192.0.2.10:8081/', LOG_LEVEL: 'silent' }), { port: 0 });
    try {
      const created = await addContactWay(sandbox.simulator, sandbox.config.apps[0], { state: 'expo2026', users: ['sales01'] });
      expect(created.qrCode).toBe(`http://192.0.2.10:8081/__sim/qr/${created.configId}.png`);
      // 192.0.2.10 is nobody's address (RFC 5737): the test reads the image on loopback, where the simulator listens too.
      const { text } = await qrContent(`${sandbox.simulator.url}/__sim/qr/${created.configId}.png`);
      expect(text).toBe(`http://192.0.2.10:8081/__sim/scan/${created.configId}`);
      expect(sandbox.config.wecom.apiBase).toBe(sandbox.simulator.url); // the gateway still calls it on loopback
    } finally {
      await sandbox.stop();
    }
  });
});
