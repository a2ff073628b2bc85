import { parseDuration } from '../../src/alerts/escalation-config';
import { freePort } from '../../src/redis/embedded-redis';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import {
  amAlert,
  amPayload,
  CARD_AES_KEY,
  CARD_TOKEN,
  silences,
  startAlertmanager,
  type Alertmanager,
  startCardGateway as startGateway,
} from '../support/alertmanager';
import { eventually, SIM_APP, uniquePrefix, type Harness } from '../support/harness';
import { encryptedPush, eventFields, eventXml } from '../support/wecom-push';
import { withAlertRoutes } from '../support/alert-routes';

type Card = Harness['sim']['cards'][number];
const cardBody = (card: Card) =>
  card.card as {
    task_id: string;
    button_list: { key?: string; text: string; url?: string }[];
    replace_text?: string;
    sub_title_text?: string;
    main_title: { title: string };
    horizontal_content_list?: unknown[];
  };
/** What the card says now for its readers: its last update's whole card. */
/** Alertmanager notifies the group `name`: its alerts share that name and severity critical unless overridden. */
const fire = (h: Harness, name: string, overrides: Record<string, unknown> = {}, query = 'users=zhangsan,lisi') =>
  h.api.post(`/v1/integrations/alertmanager?${query}`).send(
    amPayload({
      groupKey: name,
      commonLabels: { alertname: name, severity: 'critical' },
      alerts: [amAlert({ labels: { alertname: name, severity: 'critical', instance: 'db1:9100', job: 'node' } })],
      ...overrides,
    }),
  );
const lastUpdate = (card: Card) => card.updates.at(-1)?.template_card as ReturnType<typeof cardBody> | undefined;

describe('interactive alert cards (a real Alertmanager)', () => {
  let amPort: number;
  let am: Alertmanager;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let h: Harness;

  beforeAll(async () => {
    am = await startAlertmanager();
    amPort = am.port;
    gw = await startGateway(amPort, { WECOM_ROBOTS: 'ops=cards-robot-key' });
    h = gw.h;
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await am?.stop();
  });

  const cardOf = (groupKey: string) => eventually(() => h.sim.cards.find((c) => cardBody(c).main_title.title.includes(groupKey)), 10_000);

  it('when a firing group reaches members, then it is a button_interaction card with severity, title, alerts, links and ack and silence buttons', async () => {
    const alerts = Array.from({ length: 8 }, (_, i) =>
      amAlert({
        fingerprint: `c${i}`,
        labels: { alertname: 'CardShow', severity: 'critical', instance: `db${i}` },
        annotations: { summary: `disk ${i}`, runbook_url: 'https://runbooks.example/disk' },
      }),
    );
    const res = await fire(h, 'CardShow', { alerts });
    expect(res.status).toBe(202);
    expect(res.body.alert).toMatch(/^[0-9a-f]{20}$/);
    const card = await cardOf('CardShow');
    const body = cardBody(card);
    expect(card.cardType).toBe('button_interaction');
    expect(body.main_title.title).toContain('[critical] CardShow');
    expect(body.horizontal_content_list).toHaveLength(5);
    expect(body.sub_title_text).toContain('显示 5/8 条');
    // What a silence would match, before anyone clicks: the labels all eight alerts carry.
    expect(body.sub_title_text).toContain('静默范围：alertname=CardShow, severity=critical');
    expect(body.horizontal_content_list).toEqual(alerts.slice(0, 5).map((_, i) => ({ keyname: `db${i}`, value: `disk ${i}` })));
    const keys = body.button_list.map((b) => b.key).filter(Boolean);
    expect(keys).toEqual(['ack', 'silence:1h', 'silence:4h']);
    expect(body.button_list.map((b) => b.url).filter(Boolean)).toEqual([
      'http://prometheus.example/graph?g0.expr=disk',
      'https://runbooks.example/disk',
    ]);
    const state = await h.api.get(`/v1/alerts/${res.body.alert}`);
    expect(state.body).toMatchObject({ status: 'firing', severity: 'critical', cards: [{ taskId: body.task_id, level: 0 }] });
  });

  it('when a member clicks silence, then Alertmanager has the silence with the equality matchers and createdBy, and the card says so for everyone', async () => {
    const res = await fire(h, 'CardSilence', {
      commonLabels: { alertname: 'CardSilence', severity: 'warning', job: 'node' },
      alerts: [amAlert({ labels: { alertname: 'CardSilence', severity: 'warning', job: 'node', instance: 'db1' } })],
    });
    const card = await cardOf('CardSilence');
    const clicked = await h.sim.click({ user: 'zhangsan', key: 'silence:1h', taskId: card.taskId });
    expect(clicked.callbackStatuses).toEqual([200]);
    const silence = await eventually(async () => (await silences(amPort)).find((s) => s.matchers.some((m) => m.value === 'CardSilence')));
    // The labels its one alert carries, each an equality matcher: that alert, and nothing the payload merely claims.
    expect(silence.matchers.map((m) => [m.name, m.value, m.isEqual, m.isRegex]).sort()).toEqual([
      ['alertname', 'CardSilence', true, false],
      ['instance', 'db1', true, false],
      ['job', 'node', true, false],
      ['severity', 'warning', true, false],
    ]);
    expect(silence.createdBy).toContain('zhangsan');
    expect(silence.comment).toContain(card.taskId);
    const endsIn = Date.parse(silence.endsAt) - Date.now();
    expect(endsIn).toBeGreaterThan(55 * 60_000);
    expect(endsIn).toBeLessThan(61 * 60_000);
    const updated = await eventually(() => lastUpdate(h.sim.cards.find((c) => c.taskId === card.taskId)!));
    expect(updated.replace_text).toBe('已静默 1h · zhangsan');
    const update = h.sim.cards.find((c) => c.taskId === card.taskId)!.updates.at(-1)!;
    expect(update.responseCode).toBe(clicked.responseCode);
    expect([...update.userids].sort()).toEqual(['lisi', 'zhangsan']);
    const state = await eventually(async () => {
      const view = (await h.api.get(`/v1/alerts/${res.body.alert}`)).body;
      return view.status === 'silenced' ? view : undefined;
    });
    expect(state.silence).toMatchObject({ state: 'created', by: 'zhangsan', duration: '1h', id: silence.id });
  });

  it('when a member clicks ack, then the card says who acknowledged it, keeps its silence buttons and no silence is created', async () => {
    const before = (await silences(amPort)).length;
    const res = await fire(h, 'CardAck');
    const card = await cardOf('CardAck');
    const clicked = Date.now();
    await h.sim.click({ user: 'lisi', key: 'ack', taskId: card.taskId });
    const updated = await eventually(() => lastUpdate(h.sim.cards.find((c) => c.taskId === card.taskId)!));
    process.stdout.write(`card click -> ack on the card at the simulator: ${Date.now() - clicked} ms\n`);
    expect(updated.sub_title_text).toContain('已认领 · lisi');
    expect(updated.button_list.map((b) => b.key).filter(Boolean)).toEqual(['silence:1h', 'silence:4h']);
    const view = (await h.api.get(`/v1/alerts/${res.body.alert}`)).body;
    expect(view).toMatchObject({ status: 'acked', acked: { by: 'lisi' } });
    expect((await silences(amPort)).length).toBe(before);
  });

  it('when a member clicks silence twice and WeCom repeats the push, then one silence exists, and the second click is answered with the state, never a second silence', async () => {
    await fire(h, 'CardTwice');
    const card = await cardOf('CardTwice');
    const first = await h.sim.click({ user: 'zhangsan', key: 'silence:4h', taskId: card.taskId, repeat: 3 });
    expect(first.callbackStatuses).toEqual([200, 200, 200]);
    await h.sim.click({ user: 'lisi', key: 'silence:1h', taskId: card.taskId });
    await eventually(() => lastUpdate(h.sim.cards.find((c) => c.taskId === card.taskId)!));
    // Time for a wrong second silence or update to show up.
    await new Promise((r) => setTimeout(r, 1_000));
    const made = (await silences(amPort)).filter((s) => s.matchers.some((m) => m.value === 'CardTwice'));
    expect(made).toHaveLength(1);
    expect(made[0].createdBy).toContain('zhangsan');
    // WeCom's three pushes of the first click count once; lisi's click, a new push, gets the card as it stands.
    const updates = await eventually(() => {
      const clicks = h.sim.cards.find((c) => c.taskId === card.taskId)!.updates.filter((u) => u.kind === 'click');
      return clicks.length === 2 ? clicks : undefined;
    });
    expect(updates.map((u) => (u.template_card as { replace_text: string }).replace_text)).toEqual([
      '已静默 4h · zhangsan',
      '已静默 4h · zhangsan',
    ]);
    expect(await metric(h, 'wecom_gateway_alert_card_clicks_total{outcome="repeat"}')).toBeGreaterThanOrEqual(1);
  });

  it('when the group resolves, then its card is updated in place with the send code, and nothing new is sent', async () => {
    const res = await fire(h, 'CardResolve');
    const card = await cardOf('CardResolve');
    const sentBefore = h.sim.sent.length;
    const resolved = await fire(h, 'CardResolve', {
      status: 'resolved',
      alerts: [amAlert({ status: 'resolved', endsAt: new Date().toISOString() })],
    });
    expect(resolved.status).toBe(202);
    expect(resolved.body).toMatchObject({ status: 'updated', alert: res.body.alert });
    const update = await eventually(() => h.sim.cards.find((c) => c.taskId === card.taskId)!.updates.find((u) => u.kind === 'send'));
    // From the alert's startsAt (2026-11-24 02:00 UTC) to its endsAt (now), not from when the gateway heard of it.
    const days = Math.floor((Date.now() - Date.parse('2026-11-24T02:00:00Z')) / 86_400_000);
    expect((update.template_card as { replace_text: string }).replace_text).toMatch(new RegExp(`^已恢复 · 持续 ${days} 天( \\d+ 小时)?$`));
    // Alertmanager repeats the resolution (its retry, or repeat_interval): nothing changes.
    const repeated = await fire(h, 'CardResolve', {
      status: 'resolved',
      alerts: [amAlert({ status: 'resolved', endsAt: new Date().toISOString() })],
    });
    expect(repeated.body).toMatchObject({ status: 'updated', alert: res.body.alert });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sim.cards.find((c) => c.taskId === card.taskId)!.updates).toHaveLength(1);
    expect(h.sim.sent.length).toBe(sentBefore);
    expect((await h.api.get(`/v1/alerts/${res.body.alert}`)).body).toMatchObject({
      status: 'resolved',
      cards: [{ resolvedInPlace: true }],
    });
    // The next firing of the same group is a new alert group.
    const again = await fire(h, 'CardResolve', { alerts: [amAlert({ startsAt: new Date().toISOString() })] });
    expect(again.body.alert).not.toBe(res.body.alert);
  });

  it('when a click comes for an unknown card or from a member who did not receive it, then it is answered 200, ignored and counted', async () => {
    await fire(h, 'CardStranger', {}, 'users=zhangsan');
    const card = await cardOf('CardStranger');
    // The simulator refuses a click by a non-recipient itself; a forged push goes through the gateway's own checks.
    await expect(h.sim.click({ user: 'wangwu', key: 'ack', taskId: card.taskId })).rejects.toThrow();
    await h.sim.click({ user: 'zhangsan', key: 'ack', taskId: card.taskId });
    await eventually(() => lastUpdate(h.sim.cards.find((c) => c.taskId === card.taskId)!));
    expect(await metric(h, 'wecom_gateway_alert_card_clicks_total{outcome="acked"}')).toBeGreaterThanOrEqual(1);
  });

  it('when the recipients are members and a robot, then members get the card and the robot, which cannot click, the markdown with the same links; the resolution reaches the robot as a new message', async () => {
    const alerts = [
      amAlert({
        labels: { alertname: 'CardRobot', severity: 'critical', instance: 'db1' },
        annotations: { summary: 'disk', runbook_url: 'https://runbooks.example/disk' },
      }),
    ];
    const res = await fire(h, 'CardRobot', { alerts }, 'users=zhangsan&robots=ops');
    expect(res.body.ids).toHaveLength(2);
    await cardOf('CardRobot');
    const robot = await eventually(() => h.sim.robotSent.find((m) => JSON.stringify(m.body).includes('CardRobot')));
    expect(robot.msgtype).toBe('markdown');
    expect(JSON.stringify(robot.body)).toContain('[处理手册](https://runbooks.example/disk)');
    await fire(h, 'CardRobot', { status: 'resolved', alerts: [{ ...alerts[0], status: 'resolved' }] }, 'users=zhangsan&robots=ops');
    await eventually(() => h.sim.robotSent.filter((m) => JSON.stringify(m.body).includes('CardRobot')).length === 2 || undefined);
    expect(JSON.stringify(h.sim.robotSent.filter((m) => JSON.stringify(m.body).includes('CardRobot'))[1].body)).toContain(
      '✅ 已恢复 CardRobot',
    );
  });

  it('GET /v1/alerts lists the groups with their state, and filters by status', async () => {
    const all = await h.api.get('/v1/alerts');
    expect(all.status).toBe(200);
    expect(all.body.alerts.length).toBeGreaterThanOrEqual(5);
    const silenced = await h.api.get('/v1/alerts?status=silenced');
    expect(silenced.body.alerts.every((a: { status: string }) => a.status === 'silenced')).toBe(true);
    expect(silenced.body.alerts.length).toBeGreaterThanOrEqual(1);
    expect((await h.api.get('/v1/alerts?status=nope')).status).toBe(400);
    expect((await h.api.get('/v1/alerts/0123456789abcdef0123')).status).toBe(404);
  });
});

async function metric(h: Harness, series: string): Promise<number> {
  const text = (await h.api.get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line ? Number(line.split(' ').pop()) : 0;
}

const wecom = new CallbackCrypto({ token: CARD_TOKEN, encodingAesKey: CARD_AES_KEY, receiveId: SIM_APP.corpId });

/** A template_card_event as a stranger could forge it with the app's keys: the gateway's own checks decide. */
function forgedClick(h: Harness, fields: Record<string, string>) {
  const xml = eventXml({
    ...eventFields(SIM_APP.corpId, 'zhangsan', 'template_card_event'),
    EventKey: 'ack',
    TaskId: 'alert_0123456789abcdef0123_1',
    CardType: 'button_interaction',
    ResponseCode: 'forged',
    AgentID: String(SIM_APP.agentId),
    ...fields,
  });
  const push = encryptedPush(wecom, SIM_APP.corpId, xml);
  return h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body);
}

describe('alert cards: who may click, escalation, restarts, Alertmanager down', () => {
  let amPort: number;
  let am: Alertmanager;

  beforeAll(async () => {
    am = await startAlertmanager();
    amPort = am.port;
  }, 30_000);
  afterAll(() => am?.stop());

  const oncall = withAlertRoutes({
    name: 'oncall',
    users: ['zhangsan'],
    silencers: ['zhangsan'],
    escalation: [{ after: parseDuration('2s')!, to: { users: ['wangwu'] } }],
  });

  it('when a click names an unknown card, another app, or a member who may not silence, then it is answered 200 and ignored', async () => {
    const gw = await startGateway(amPort, {}, { config: oncall });
    try {
      const { h } = gw;
      await fire(h, 'Forged', {}, 'route=oncall');
      const card = await eventually(() => h.sim.cards[0]);
      expect((await forgedClick(h, {})).status).toBe(200);
      expect((await forgedClick(h, { TaskId: card.taskId, AgentID: '1000099' })).status).toBe(200);
      expect((await forgedClick(h, { TaskId: card.taskId, FromUserName: 'lisi', EventKey: 'silence:1h' })).status).toBe(200);
      await eventually(async () => (await metric(h, 'wecom_gateway_alert_card_clicks_total{outcome="not_allowed"}')) === 1 || undefined);
      expect(await metric(h, 'wecom_gateway_alert_card_clicks_total{outcome="unknown_card"}')).toBe(1);
      expect(await metric(h, 'wecom_gateway_alert_card_clicks_total{outcome="other_app"}')).toBe(1);
      expect(h.sim.cards[0].updates).toHaveLength(0);
      expect((await silences(amPort)).some((s) => s.matchers.some((m) => m.value === 'Forged'))).toBe(false);
    } finally {
      await gw.close();
    }
  });

  it("when nobody acts within 2 s, then the group escalates to the next level, also across a gateway restart, and Alertmanager's repeat does not restart the clock", async () => {
    const env = { REDIS_PREFIX: uniquePrefix() };
    const first = await startGateway(amPort, env, { config: oncall });
    const res = await fire(first.h, 'Escalate', {}, 'route=oncall');
    expect(res.status).toBe(202);
    await eventually(() => first.h.sim.cards[0]);
    // Gone before the level is due: the delayed job waits in Redis.
    await first.close();
    await new Promise((r) => setTimeout(r, 1_000));
    const second = await startGateway(amPort, env, { config: oncall });
    try {
      const { h } = second;
      // Alertmanager repeats the group: it goes to the first level again, the clock keeps running.
      const repeatedAt = Date.now();
      await fire(h, 'Escalate', { alerts: [amAlert({ startsAt: new Date().toISOString() })] }, 'route=oncall');
      const escalated = await eventually(() => h.sim.cards.find((c) => c.to.users.includes('wangwu')), 10_000);
      const body = cardBody(escalated);
      expect(body.sub_title_text).toContain('升级自 zhangsan');
      const view = (await h.api.get(`/v1/alerts/${res.body.alert}`)).body;
      expect(view.escalation).toEqual({ level: 1, levels: 1 });
      expect(view.cards.map((c: { level: number }) => c.level).sort()).toEqual([0, 0, 1]);
      // Due 2 s after the first firing, not 2 s after the repeat.
      const escalatedAt = h.sim.sent.find((m) => m.touser.includes('wangwu'))!.at;
      expect(escalatedAt - Date.parse(view.firingSince)).toBeGreaterThanOrEqual(1_900);
      expect(escalatedAt - repeatedAt).toBeLessThan(1_900);
    } finally {
      await second.close();
    }
  }, 30_000);

  it('when the first level acks in time, then nothing escalates', async () => {
    const gw = await startGateway(amPort, {}, { config: oncall });
    try {
      const { h } = gw;
      await fire(h, 'AckInTime', {}, 'route=oncall');
      const card = await eventually(() => h.sim.cards[0]);
      await h.sim.click({ user: 'zhangsan', key: 'ack', taskId: card.taskId });
      await new Promise((r) => setTimeout(r, 3_000));
      expect(h.sim.cards.filter((c) => c.to.users.includes('wangwu'))).toHaveLength(0);
      expect(h.sim.sent.filter((m) => m.touser.includes('wangwu'))).toHaveLength(0);
    } finally {
      await gw.close();
    }
  }, 20_000);

  it('when Alertmanager is down, then the click is still answered at once, the silence is retried, and the card finally says it failed', async () => {
    const downPort = await freePort();
    const gw = await startGateway(downPort);
    try {
      const { h } = gw;
      const res = await fire(h, 'AmDown', {}, 'users=zhangsan');
      const card = await eventually(() => h.sim.cards[0]);
      const started = Date.now();
      const clicked = await h.sim.click({ user: 'zhangsan', key: 'silence:1h', taskId: card.taskId });
      expect(clicked.callbackStatuses).toEqual([200]);
      expect(Date.now() - started).toBeLessThan(2_000);
      const updated = await eventually(() => lastUpdate(h.sim.cards[0]), 15_000);
      expect(updated.sub_title_text).toContain('静默失败：Alertmanager unreachable');
      expect(updated.replace_text).toBeUndefined();
      const view = (await h.api.get(`/v1/alerts/${res.body.alert}`)).body;
      expect(view).toMatchObject({ status: 'firing', silence: { state: 'failed', by: 'zhangsan' } });
      expect(view.silence.id).toBeUndefined();
      expect(await metric(h, 'wecom_gateway_alert_silences_total{result="failed"}')).toBe(1);
    } finally {
      await gw.close();
    }
  }, 30_000);
});
