import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { startAlertmanager, postAlerts, type Alertmanager } from '../support/alertmanager';
import { alertsDelivered, callsByApi, inbox, mark, stormAlerts, wechatConfig, type WechatReceiver } from '../support/alertmanager-wechat';
import { eventually, listen, SIM_APP, startHarness, type Harness } from '../support/harness';
import { WecomSimulator } from '../../src/simulator/simulator';

const STORM = 300;

/** One address (Alertmanager's api_url) in front of a gateway that can be replaced, as a restart with new keys does. */
async function swappableListener(first: Express): Promise<{ base: string; swap(app: Express): void; close(): Promise<void> }> {
  let current = first;
  const server: Server = createServer((req, res) => current(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    swap: (app) => void (current = app),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An Alertmanager counter for its wechat integration: requests that failed, notifications that failed for good. */
async function wechatCounter(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes('integration="wechat"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}
/** WeCom's own per-member limits (reference §2.5): real time, as Alertmanager runs on the wall clock. */
const WECOM_MEMBER_LIMITS = [
  { count: 30, windowMs: 60_000 },
  { count: 1000, windowMs: 3_600_000 },
];

describe("Alertmanager 0.25's own wechat_configs straight at WeCom (the simulator): the baseline", () => {
  let sim: WecomSimulator;
  const started: Alertmanager[] = [];
  /** An Alertmanager of the test's own: a fresh token cache, a member of its own. */
  const alertmanager = async (toUser: string) => {
    const receiver: WechatReceiver = {
      apiUrl: `${sim.url}/cgi-bin/`,
      corpId: SIM_APP.corpId,
      apiSecret: SIM_APP.secret,
      agentId: SIM_APP.agentId,
      toUser,
    };
    started.push(await startAlertmanager(wechatConfig(receiver)));
    return started[started.length - 1];
  };
  beforeAll(async () => {
    sim = await WecomSimulator.start({ apps: [SIM_APP], memberLimits: WECOM_MEMBER_LIMITS });
  });
  afterAll(async () => {
    await Promise.all(started.map((am) => am.stop()));
    await sim?.stop();
  });

  it('when one alert fires, then it reaches the member', async () => {
    const am = await alertmanager('single01');
    await postAlerts(am.port, stormAlerts(1, 'Single'));
    const [delivered] = await eventually(() => inbox(sim, 'single01').length === 1 && inbox(sim, 'single01'), 20_000, 50);
    expect(delivered.content).toContain('Single000');
  }, 30_000);

  it('when 300 alerts fire at once, then WeCom silently drops all but 30 of them (the loss the gateway exists for)', async () => {
    const am = await alertmanager('oncall01');
    const from = mark(sim);
    const alerts = stormAlerts(STORM);
    const started = Date.now();
    await postAlerts(am.port, alerts);
    await eventually(() => (callsByApi(sim, from)['message/send'] ?? 0) >= STORM, 60_000, 100);
    const texts = inbox(sim, 'oncall01', from);
    const calls = callsByApi(sim, from);
    const lastDeliveryMs = Math.max(...texts.map((t) => t.at)) - started;
    const lastCallMs = Math.max(...sim.calls.slice(from.calls).map((c) => c.at)) - started;
    const delivered = alertsDelivered(
      texts.map((t) => t.content),
      alerts,
    );
    console.log(
      `storm straight at WeCom: ${JSON.stringify({ alerts: STORM, delivered, messages: texts.length, calls, lastDeliveryMs, lastCallMs })}`,
    );
    expect(delivered).toBe(30);
    expect(texts).toHaveLength(30);
    expect(calls['message/send']).toBe(STORM);
  }, 90_000);
});

describe("Alertmanager 0.25's own wechat_configs pointed at the gateway (api_url: <gateway>/cgi-bin/)", () => {
  const KEY = 'am-wechat-key-0123456789';
  let h: Harness;
  let served: Awaited<ReturnType<typeof listen>>;
  const started: Alertmanager[] = [];
  const alertmanager = async (toUser: string) => {
    const receiver: WechatReceiver = {
      apiUrl: `${served.base}/cgi-bin/`,
      corpId: SIM_APP.corpId,
      apiSecret: KEY,
      agentId: SIM_APP.agentId,
      toUser,
    };
    started.push(await startAlertmanager(wechatConfig(receiver)));
    return started[started.length - 1];
  };
  beforeAll(async () => {
    // WeCom's limits at the simulator, the same budget at the gateway.
    h = await startHarness({
      env: { GATEWAY_API_KEYS: KEY, MEMBER_QUOTA: '30/60,1000/3600' },
      simulator: { apps: [SIM_APP], memberLimits: WECOM_MEMBER_LIMITS },
    });
    served = await listen(h.gateway.app);
  });
  afterAll(async () => {
    await Promise.all(started.map((am) => am.stop()));
    await served?.close();
    await h?.close();
  });

  it('when one alert fires, then it reaches the member through the gateway', async () => {
    const am = await alertmanager('single01');
    await postAlerts(am.port, stormAlerts(1, 'Single'));
    const [delivered] = await eventually(() => inbox(h.sim, 'single01').length === 1 && inbox(h.sim, 'single01'), 20_000, 50);
    expect(delivered.content).toContain('Single000');
    expect(delivered.content).toContain('node000:9100');
  }, 30_000);

  it('when 300 alerts fire at once, then every alert reaches the member, none dropped by WeCom, with one gettoken at WeCom', async () => {
    const am = await alertmanager('oncall01');
    const from = mark(h.sim);
    const alerts = stormAlerts(STORM);
    const started = Date.now();
    await postAlerts(am.port, alerts);
    await eventually(
      () =>
        alertsDelivered(
          inbox(h.sim, 'oncall01', from).map((t) => t.content),
          alerts,
        ) === STORM || undefined,
      170_000,
      500,
    );
    const texts = inbox(h.sim, 'oncall01', from);
    const calls = callsByApi(h.sim, from);
    const lastDeliveryMs = Math.max(...texts.map((t) => t.at)) - started;
    console.log(
      `storm through the gateway: ${JSON.stringify({ alerts: STORM, delivered: STORM, messages: texts.length, calls, lastDeliveryMs })}`,
    );
    expect(h.sim.dropped).toBe(0);
    expect(texts.length).toBeLessThan(STORM);
    expect(h.sim.gettokenCount()).toBe(1);
  }, 200_000);
});

describe('the gateway token seen by Alertmanager: expiry and a changed key', () => {
  const OLD_KEY = 'am-token-key-old-0123456789';
  const NEW_KEY = 'am-token-key-new-0123456789';
  let offsetMs = 0;
  let h: Harness;
  let changed: Harness | undefined;
  let front: Awaited<ReturnType<typeof swappableListener>>;
  let am: Alertmanager;
  const receiver = (apiSecret: string): WechatReceiver => ({
    apiUrl: `${front.base}/cgi-bin/`,
    corpId: SIM_APP.corpId,
    apiSecret,
    agentId: SIM_APP.agentId,
    toUser: 'token01',
  });
  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_API_KEYS: OLD_KEY }, clock: () => Date.now() + offsetMs });
    front = await swappableListener(h.gateway.app);
    am = await startAlertmanager(wechatConfig(receiver(OLD_KEY)));
  });
  afterAll(async () => {
    await am?.stop();
    await front?.close();
    await changed?.close();
    await h?.close();
  });

  it("when the gateway's token expires (its clock 7201 s on), then Alertmanager gets 42001, fetches a new token and delivers", async () => {
    await postAlerts(am.port, stormAlerts(1, 'BeforeExpiry'));
    await eventually(() => inbox(h.sim, 'token01').some((t) => t.content.includes('BeforeExpiry000')) || undefined, 20_000, 50);
    const failedRequests = await wechatCounter(am.port, 'alertmanager_notification_requests_failed_total');
    offsetMs = 7_201_000;
    await postAlerts(am.port, stormAlerts(1, 'AfterExpiry'));
    await eventually(() => inbox(h.sim, 'token01').some((t) => t.content.includes('AfterExpiry000')) || undefined, 30_000, 50);
    // The 42001 made one request fail; Alertmanager dropped its token on it, retried, and the notification succeeded.
    expect(await wechatCounter(am.port, 'alertmanager_notification_requests_failed_total')).toBe(failedRequests + 1);
    expect(await wechatCounter(am.port, 'alertmanager_notifications_failed_total')).toBe(0);
  }, 60_000);

  it("when the key's value changes, then Alertmanager's token gets 40014 and that notification fails (it keeps the token); with the new key configured and reloaded, it delivers", async () => {
    changed = await startHarness({ env: { GATEWAY_API_KEYS: NEW_KEY } });
    front.swap(changed.gateway.app);
    await postAlerts(am.port, stormAlerts(1, 'OldKey'));
    await eventually(async () => (await wechatCounter(am.port, 'alertmanager_notifications_failed_total')) === 1 || undefined, 20_000, 100);
    expect(inbox(changed.sim, 'token01')).toHaveLength(0);
    expect(changed.sim.calls.filter((c) => c.api === 'message/send')).toHaveLength(0);
    await am.reconfigure(wechatConfig(receiver(NEW_KEY)));
    await postAlerts(am.port, stormAlerts(1, 'NewKey'));
    // The reload regroups the alerts: the notification that failed is sent again, with the new alert.
    const texts = await eventually(
      () => inbox(changed!.sim, 'token01').length === 2 && inbox(changed!.sim, 'token01').map((t) => t.content),
      20_000,
      50,
    );
    expect(texts.join('\n')).toContain('OldKey000');
    expect(texts.join('\n')).toContain('NewKey000');
  }, 60_000);
});
