import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertRoute } from '../../src/alerts/alerts-config';
import { parseDuration } from '../../src/alerts/escalation-config';
import type { OnCallDirectory } from '../../src/messages/oncall-recipients';
import type { Config } from '../../src/config/config';
import { signWebhook } from '../../src/webhooks/webhook-outbox';
import { amAlert, amPayload } from '../support/alertmanager';
import { eventually, metricLines, startHarness, type Harness } from '../support/harness';

const after = (text: string) => parseDuration(text)!;
/** zhangsan first; lisi's phone after 1 s; wangwu's message a minute later, unless a call could not ring. */
const phoneRoute = (call: string[] = ['lisi'], next = '60s'): AlertRoute => ({
  name: 'phone',
  users: ['zhangsan'],
  escalation: [
    { after: after('1s'), to: { call } },
    { after: after(next), to: { users: ['wangwu'] } },
  ],
});
/** The route, and getstates asked three times 100 ms apart (not 30 s, 1 min…). */
const phoneConfig =
  (route: AlertRoute, phone: Partial<Config['alerts']['phone']> = {}) =>
  (c: Config): Config => ({
    ...c,
    alerts: { ...c.alerts, routes: [route], phone: { ...c.alerts.phone, followMs: [100, 100, 100], ...phone } },
  });

const fire = (h: Harness, name: string) =>
  h.api.post('/v1/integrations/alertmanager?route=phone').send(
    amPayload({
      groupKey: name,
      commonLabels: { alertname: name, severity: 'critical' },
      alerts: [amAlert({ labels: { alertname: name, severity: 'critical', instance: 'db1:9100' } })],
    }),
  );
type Entry = { at: string; kind: string; to?: string; level?: number; detail?: string };
const timeline = async (h: Harness, id: string): Promise<Entry[]> => (await h.api.get(`/v1/alerts/${id}`)).body.timeline;
const noted = (h: Harness, id: string, kind: string) =>
  eventually(async () => (await timeline(h, id)).find((e) => e.kind === kind), 10_000);
const metric = async (h: Harness, result: string) =>
  Number(/ (\d+)$/.exec(await metricLines(h.api, `wecom_gateway_alert_calls_total{result="${result}"}`))?.[1] ?? 0);
const toWangwu = (h: Harness) => h.sim.sent.filter((m) => m.touser.includes('wangwu'));

describe('phone calls of escalation levels (ALERT_PHONE=wecom, the simulator as WeCom)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
    h = undefined!;
  });

  it('when a level with call is reached, then the call is placed, an answer is on the timeline, the group stays firing and escalation goes on', async () => {
    h = await startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute(['lisi'], '2s')) });
    const res = await fire(h, 'Answered');
    expect(res.status).toBe(202);
    const call = await eventually(() => h.sim.phone.calls.find((c) => c.userid === 'lisi'));
    expect(call.outcome).toBe('answered');
    const answered = await noted(h, res.body.alert, 'callAnswered');
    expect(answered).toMatchObject({ to: 'lisi', level: 1 });
    const entries = await timeline(h, res.body.alert);
    expect(entries.find((e) => e.kind === 'called')).toMatchObject({ to: 'lisi', level: 1, detail: 'wecom' });
    const escalatedAt = Date.parse(entries.find((e) => e.kind === 'escalated')!.at);
    process.stdout.write(`escalation due -> call at the simulator: ${call.at - escalatedAt} ms\n`);
    expect((await h.api.get(`/v1/alerts/${res.body.alert}`)).body.status).toBe('firing');
    // Not an ack: the next level still comes when its time is up.
    await eventually(() => toWangwu(h)[0], 10_000);
    expect(await metric(h, 'placed')).toBe(1);
    expect(await metric(h, 'answered')).toBe(1);
  }, 20_000);

  it('when nobody answers, then the call is recorded unanswered and the next level waits its time', async () => {
    h = await startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute()) });
    h.sim.phone.chooseNext('unanswered');
    const res = await fire(h, 'Unanswered');
    const failed = await noted(h, res.body.alert, 'callFailed');
    expect(failed).toMatchObject({ to: 'lisi', level: 1, detail: 'unanswered' });
    expect(await metric(h, 'unanswered')).toBe(1);
    expect(toWangwu(h)).toHaveLength(0);
    expect((await h.api.get(`/v1/alerts/${res.body.alert}`)).body.escalation.level).toBe(1);
  }, 20_000);

  it("when the callee is over WeCom's limit (reason 13), then the failure is on the group and counted, and the next level goes at once", async () => {
    h = await startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute()) });
    // Three calls to lisi in the last 8 minutes: the fourth is refused with reason 13.
    for (let n = 0; n < 3; n++)
      h.sim.phone.calls.push({ userid: 'lisi', callid: `old-${n}`, agentId: 0, outcome: 'answered', at: Date.now() });
    const res = await fire(h, 'Limited');
    const failed = await noted(h, res.body.alert, 'callFailed');
    expect(failed).toMatchObject({ to: 'lisi', detail: "over the callee's call limit" });
    expect(h.sim.phone.calls.at(-1)?.outcome).toBe('limited');
    await eventually(() => toWangwu(h)[0], 10_000);
    expect(await metric(h, 'limited')).toBe(1);
  }, 20_000);

  it.each([
    ['no_balance', "the corp's call balance is too low"],
    ['not_allowed', 'the app may not place calls (紧急通知)'],
  ] as const)(
    'when WeCom refuses the call (%s), then the failure is on the group and counted, and the next level goes at once',
    async (outcome, detail) => {
      h = await startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute()) });
      h.sim.phone.chooseNext(outcome);
      const res = await fire(h, `Refused-${outcome}`);
      expect(await noted(h, res.body.alert, 'callFailed')).toMatchObject({ to: 'lisi', detail });
      await eventually(() => toWangwu(h)[0], 10_000);
      expect(await metric(h, outcome)).toBe(1);
      expect(await metric(h, 'placed')).toBe(0);
      expect(h.sim.phone.calls).toHaveLength(0);
    },
    20_000,
  );

  it('when WeCom stays busy through every attempt to place the call, then it is recorded failed once and the next level goes at once', async () => {
    h = await startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute()) });
    h.sim.failNext(5, { errcode: -1, errmsg: 'system busy' }, 'pstncc/call');
    const res = await fire(h, 'Busy');
    expect(await noted(h, res.body.alert, 'callFailed')).toMatchObject({ to: 'lisi', level: 1, detail: 'the call could not be placed' });
    await eventually(() => toWangwu(h)[0], 10_000);
    expect(h.sim.calls.filter((c) => c.api === 'pstncc/call').map((c) => c.errcode)).toEqual([-1, -1, -1, -1, -1]);
    expect(h.sim.phone.calls).toHaveLength(0);
    expect(await metric(h, 'failed')).toBe(1);
  }, 20_000);

  it('when a level calls oncall:sre, then whoever is on call when the level is reached is called', async () => {
    let onCall = ['ops1'];
    const oncall: OnCallDirectory = { has: (name) => name === 'sre', usersOnCall: async (name) => (name === 'sre' ? onCall : []) };
    h = await startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute(['oncall:sre', 'lisi'])), oncall });
    // The shift changes after the alert fired, before the level is due.
    const res = await fire(h, 'OnCall');
    onCall = ['ops2'];
    await noted(h, res.body.alert, 'callAnswered');
    await eventually(() => h.sim.phone.calls.length === 2 || undefined);
    expect(h.sim.phone.calls.map((c) => c.userid).sort()).toEqual(['lisi', 'ops2']);
  }, 20_000);

  it('when the group resolves before the level with call is due, then nobody is called', async () => {
    h = await startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute()) });
    const res = await fire(h, 'ResolvedFirst');
    const resolved = await h.api.post('/v1/integrations/alertmanager?route=phone').send(
      amPayload({
        status: 'resolved',
        groupKey: 'ResolvedFirst',
        commonLabels: { alertname: 'ResolvedFirst', severity: 'critical' },
        alerts: [
          amAlert({
            status: 'resolved',
            endsAt: new Date().toISOString(),
            labels: { alertname: 'ResolvedFirst', severity: 'critical', instance: 'db1:9100' },
          }),
        ],
      }),
    );
    expect(resolved.status).toBe(202);
    await noted(h, res.body.alert, 'resolved');
    await new Promise((r) => setTimeout(r, 2_000));
    expect(h.sim.phone.calls).toHaveLength(0);
    expect((await timeline(h, res.body.alert)).filter((e) => e.kind === 'called')).toHaveLength(0);
  }, 20_000);

  it('when a level calls but ALERT_PHONE is unset, or names a schedule nobody defined, then start-up stops with a line naming it', async () => {
    await expect(startHarness({ config: phoneConfig(phoneRoute()) })).rejects.toThrow(
      /alertRoutes phone: escalation\.0\.to\.call: ALERT_PHONE is not set/,
    );
    await expect(startHarness({ env: { ALERT_PHONE: 'wecom' }, config: phoneConfig(phoneRoute(['oncall:nope'])) })).rejects.toThrow(
      /oncall:nope: no on-call schedule is named nope/,
    );
    await expect(startHarness({ env: { ALERT_PHONE: 'webhook', ALERT_PHONE_WEBHOOK_URL: 'http://127.0.0.1:9/' } })).rejects.toThrow(
      /ALERT_PHONE_WEBHOOK_SECRET: required with ALERT_PHONE=webhook/,
    );
  });
});

describe('phone calls through an adapter (ALERT_PHONE=webhook)', () => {
  const SECRET = 'phone-adapter-secret-0123';
  let adapter: Server;
  let url: string;
  const got: { headers: IncomingMessage['headers']; raw: string }[] = [];
  let h: Harness;

  beforeAll(async () => {
    adapter = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk) => (raw += chunk));
      req.on('end', () => {
        got.push({ headers: req.headers, raw });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => adapter.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(adapter.address() as AddressInfo).port}/call`;
  });
  afterAll(() => new Promise((resolve) => adapter.close(resolve)));
  afterEach(() => h?.close());

  /** The adapter's answer, signed as the gateway signs (or with another key). */
  const answer = (callbackUrl: string, body: unknown, secret = SECRET) => {
    const raw = JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    return h.api
      .post(new URL(callbackUrl).pathname)
      .set('content-type', 'application/json')
      .set('x-gateway-timestamp', timestamp)
      .set('x-gateway-signature', signWebhook(secret, timestamp, raw))
      .send(raw);
  };

  it('when a level calls, then the adapter gets a signed call, and its signed answer is recorded once; a bad signature is 401, an unknown call 404', async () => {
    const env = {
      ALERT_PHONE: 'webhook',
      ALERT_PHONE_WEBHOOK_URL: url,
      ALERT_PHONE_WEBHOOK_SECRET: SECRET,
      PUBLIC_URL: 'https://gw.example.com/',
    };
    h = await startHarness({ env, config: phoneConfig(phoneRoute(['lisi', 'zhaoliu'])) });
    const res = await fire(h, 'Webhook');
    await eventually(() => got.length === 2 || undefined);
    for (const call of got) {
      const ts = String(call.headers['x-gateway-timestamp']);
      expect(call.headers['x-gateway-signature']).toBe(signWebhook(SECRET, ts, call.raw));
    }
    const calls = got.map((c) => JSON.parse(c.raw)).sort((a, b) => a.callee.userid.localeCompare(b.callee.userid));
    expect(calls[0]).toEqual({
      id: `${res.body.alert}-1-0`,
      alert: {
        id: res.body.alert,
        title: expect.stringContaining('Webhook'),
        severity: 'critical',
        status: 'firing',
        firingSince: expect.any(String),
        url: `https://gw.example.com/alerts/${res.body.alert}`,
      },
      callee: { userid: 'lisi' },
      level: 1,
      callbackUrl: `https://gw.example.com/v1/phone/calls/${res.body.alert}-1-0`,
    });
    expect(got[0].headers['x-gateway-delivery']).toMatch(/-1-\d$/);

    expect((await answer(calls[0].callbackUrl, { answered: true }, 'another-secret-0123456')).status).toBe(401);
    expect((await answer(calls[0].callbackUrl, { answered: 'yes' })).body.error.fields?.[0]?.field ?? 'answered').toBe('answered');
    const ok = await answer(calls[0].callbackUrl, { answered: true });
    expect(ok.body).toEqual({ id: calls[0].id, result: 'answered', recorded: true });
    expect((await answer(calls[0].callbackUrl, { answered: false, reason: 'busy' })).body.recorded).toBe(false);
    expect((await answer(calls[0].callbackUrl.replace(/-1-0$/, '-1-7'), { answered: true })).status).toBe(404);
    expect(await noted(h, res.body.alert, 'callAnswered')).toMatchObject({ to: 'lisi', level: 1 });
    expect(toWangwu(h)).toHaveLength(0);

    // zhaoliu's adapter could not ring: the next level goes at once.
    expect((await answer(calls[1].callbackUrl, { answered: false, reason: 'provider refused the number' })).body.result).toBe('failed');
    await eventually(() => toWangwu(h)[0], 10_000);
    const failed = (await timeline(h, res.body.alert)).find((e) => e.kind === 'callFailed');
    expect(failed).toMatchObject({ to: 'zhaoliu', level: 1 });
  }, 20_000);
});
