import { startAlertmanager, postAlerts, type Alertmanager } from '../support/alertmanager';
import { alertsDelivered, callsByApi, inbox, mark, stormAlerts, wechatConfig, type WechatReceiver } from '../support/alertmanager-wechat';
import { eventually, SIM_APP } from '../support/harness';
import { WecomSimulator } from '../../src/simulator/simulator';

const STORM = 300;
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
