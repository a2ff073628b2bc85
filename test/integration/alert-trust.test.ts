import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseDuration } from '../../src/alerts/escalation-config';
import type { AlertRoute } from '../../src/alerts/alerts-config';
import type { Config } from '../../src/config/config';
import { loadConfig, startupWarnings } from '../../src/config/load';
import { freePort } from '../../src/redis/embedded-redis';
import {
  amAlert,
  amPayload,
  postAlerts,
  silences,
  startAlertmanager,
  startCardGateway,
  webhookConfig,
  type Alertmanager,
} from '../support/alertmanager';
import { Redis } from 'ioredis';
import { eventually, listen, metricLines, startHarness, startTestRedis, uniquePrefix, type Harness } from '../support/harness';
import { withAlertRoutes } from '../support/alert-routes';

/**
 * What an SRE team's trial found (issue 31), each reproduced here: resolved alerts
 * paging as firing, wrong times, stale cards after an ack, silences in the wrong
 * Alertmanager, digests that do not say where, another key ending your alert.
 * Real Alertmanagers post the notifications where the order and timing matter.
 */
type Card = Harness['sim']['cards'][number];
const body = (m: { body: Record<string, unknown> }) => JSON.stringify(m.body);
const cardBody = (card: Card) =>
  card.card as {
    task_id: string;
    button_list: { key?: string; text: string }[];
    replace_text?: string;
    sub_title_text?: string;
    main_title: { title: string; desc: string };
  };
const lastShown = (card: Card) => (card.updates.at(-1)?.template_card ?? card.card) as ReturnType<typeof cardBody>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** "HH:mm" in Asia/Shanghai (ALERT_TIMEZONE's default), "MM-DD HH:mm" when that was another day than `now` there. */
function shanghaiSince(iso: string, now: number): string {
  const part = (options: Intl.DateTimeFormatOptions) => (at: Date) =>
    new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', ...options }).format(at);
  const time = part({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const day = (at: Date) => part({ month: '2-digit', day: '2-digit' })(at).split('/').reverse().join('-');
  const at = new Date(iso);
  return day(at) === day(new Date(now)) ? time(at) : `${day(at)} ${time(at)}`;
}
/**
 * A gateway clock that starts at the beginning of a minute (storm control counts
 * per wall-clock minute) and can jump ahead: a burst lands in one minute, and
 * what comes `ahead` ms later lands in another, without waiting for it.
 */
function minuteClock() {
  const start = Date.now();
  const minute = Math.floor(start / 60_000) * 60_000 + 60_000;
  const clock = { ahead: 0, now: () => minute + 1_000 + (Date.now() - start) + clock.ahead };
  return clock;
}

const routes = (extra: Partial<AlertRoute> = {}): ((c: Config) => Config) =>
  withAlertRoutes({
    name: 'oncall',
    users: ['zhangsan'],
    escalation: [{ after: parseDuration('6s')!, to: { users: ['lisi'], robots: ['ops'] } }],
    ...extra,
  });

describe('a resolved alert never pages (real Alertmanager)', () => {
  let am: Alertmanager;
  let gw: Awaited<ReturnType<typeof startCardGateway>>;
  let h: Harness;
  /** The resolutions come in the next minute, as in the trial, past the window that folded. */
  const clock = minuteClock();

  beforeAll(async () => {
    const amPort = await freePort();
    gw = await startCardGateway(
      amPort,
      { STORM_PER_RECIPIENT_PER_MINUTE: '10', WECOM_ROBOTS: 'ops=trust-robot-key' },
      { config: routes(), clock: clock.now },
    );
    h = gw.h;
    am = await startAlertmanager(webhookConfig(`${gw.base}/v1/integrations/alertmanager?route=oncall`), amPort);
  }, 30_000);
  afterAll(async () => {
    await am?.stop();
    await gw?.close();
  });

  it('when 12 groups storm one person, two fold into the digest and then all 12 resolve, then nobody gets a firing card, an escalation or a group left firing', async () => {
    const instances = Array.from({ length: 12 }, (_, i) => `redis-${String(i + 1).padStart(2, '0')}`);
    const startsAt = ago(60_000);
    const alerts = instances.map((instance) => ({
      labels: { alertname: 'RedisDown', severity: 'critical', instance },
      annotations: { summary: `${instance} is down` },
      startsAt,
    }));
    await postAlerts(am.port, alerts);
    // Ten cards, two folded: storm control's count reaches 12.
    await eventually(() => h.sim.cards.length === 10 || undefined, 15_000, 50);
    await eventually(
      async () => (await metricLines(h.api, 'wecom_gateway_alert_notifications_total')).includes('decision="folded"} 2') || undefined,
      10_000,
      50,
    );
    const cardsBefore = h.sim.cards.length;
    const firingBefore = h.sim.sent.length;

    clock.ahead = 60_000;
    await postAlerts(
      am.port,
      alerts.map((a) => ({ ...a, endsAt: new Date().toISOString() })),
    );
    // The ten followed groups resolve in place; the two folded ones arrive as resolutions with no group.
    await eventually(
      async () => ((await h.api.get('/v1/alerts?status=resolved')).body.alerts.length === 10 ? true : undefined),
      15_000,
      100,
    );
    await eventually(
      async () =>
        (await metricLines(h.api, 'wecom_gateway_alert_notifications_total')).match(/decision="(send|folded)"} (\d+)/g)?.length ||
        undefined,
    );
    for (const job of await h.gateway.queues.get('alert-digest')!.getDelayed()) await job.promote();
    // Past the escalation's 6 s: a wrongly opened group would have paged lisi and the robot by now.
    await sleep(7_000);

    expect(h.sim.cards).toHaveLength(cardsBefore);
    expect(h.sim.sent.filter((m) => m.touser.includes('lisi'))).toEqual([]);
    expect(h.sim.robotSent).toEqual([]);
    expect((await h.api.get('/v1/alerts?status=firing')).body.alerts).toEqual([]);
    const after = h.sim.sent.slice(firingBefore);
    const digest = after.filter((m) => body(m).includes('告警风暴'));
    const resolvedMessages = after.filter((m) => !body(m).includes('告警风暴'));
    // The folded pair's resolutions: as resolved messages, or (same minute) in the digest as resolved; never as firing.
    expect(
      resolvedMessages.every((m) => m.msgtype !== 'template_card' && body(m).includes('✅ 已恢复 RedisDown') && !body(m).includes('🔥')),
    ).toBe(true);
    const told = body({ body: { all: [...resolvedMessages, ...digest].map((m) => m.body) } });
    for (const folded of instances.filter((i) => !h.sim.cards.some((c) => JSON.stringify(c.card).includes(i))))
      expect(told).toContain(folded);
    // Every card now says resolved, with how long it lasted (from startsAt, a minute before, not from when the gateway heard of it).
    for (const card of h.sim.cards) expect(lastShown(card).replace_text).toMatch(/^已恢复 · 持续 [12] 分钟$/);
  }, 60_000);
});

describe('a late replica', () => {
  it("when a replica's firing of a group arrives after the group resolved (past the dedupe window), then it is outdated: no card, no group", async () => {
    const am = await startAlertmanager();
    const gw = await startCardGateway(am.port, { STORM_DEDUPE_SECONDS: '0' });
    try {
      const firing = amPayload({ groupKey: 'late', alerts: [amAlert({ startsAt: ago(600_000) })] });
      const opened = await gw.h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(firing);
      await eventually(() => gw.h.sim.cards[0]);
      const resolved = await gw.h.api.post('/v1/integrations/alertmanager?users=zhangsan').send({
        ...firing,
        status: 'resolved',
        alerts: [amAlert({ status: 'resolved', startsAt: ago(600_000), endsAt: new Date().toISOString() })],
      });
      expect(resolved.body).toEqual({ alert: opened.body.alert, status: 'updated' });
      const late = await gw.h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(firing);
      expect(late.body).toEqual({ alert: opened.body.alert, status: 'outdated' });
      await sleep(300);
      expect(gw.h.sim.cards).toHaveLength(1);
      expect((await gw.h.api.get('/v1/alerts?status=firing')).body.alerts).toEqual([]);
      // The same alert firing anew (a later startsAt) is a new group.
      const again = await gw.h.api
        .post('/v1/integrations/alertmanager?users=zhangsan')
        .send({ ...firing, alerts: [amAlert({ startsAt: new Date(Date.now() + 1_000).toISOString() })] });
      expect(again.body.status).toBe('queued');
      expect(again.body.alert).not.toBe(opened.body.alert);
    } finally {
      await gw.close();
      await am.stop();
    }
  });
});

describe('a resolution whose group the gateway forgot is a resolved message, never a page', () => {
  const resolvedPayload = (groupKey: string) =>
    amPayload({
      groupKey,
      status: 'resolved',
      commonLabels: { alertname: 'DiskFull', severity: 'critical' },
      alerts: [amAlert({ status: 'resolved', startsAt: ago(3_600_000), endsAt: new Date().toISOString() })],
    });
  const expectResolvedMessageOnly = async (h: Harness, answer: { status: number; body: Record<string, unknown> }) => {
    expect(answer.status).toBe(202);
    expect(answer.body.status).toBe('queued');
    const message = await eventually(() => h.sim.sent.find((m) => body(m).includes('✅ 已恢复 DiskFull')));
    expect(message.msgtype).toBe('markdown');
    expect(body(message)).toContain('持续 1 小时');
    expect(h.sim.cards.filter((c) => c.msgid === message.msgid)).toEqual([]);
    expect((await h.api.get('/v1/alerts?status=firing')).body.alerts).toEqual([]);
  };

  it('when the group expired from Redis before it resolved, then the resolution is a resolved message', async () => {
    const am = await startAlertmanager();
    // A retention of 3 s: the group and its cards are gone when the resolution comes.
    const gw = await startCardGateway(am.port, { MESSAGE_RETENTION_DAYS: String(3 / 86_400) });
    try {
      const fired = await gw.h.api
        .post('/v1/integrations/alertmanager?users=zhangsan')
        .send(amPayload({ groupKey: 'expired', alerts: [amAlert({ startsAt: ago(3_600_000) })] }));
      await eventually(() => gw.h.sim.cards[0]);
      await eventually(async () => ((await gw.h.api.get(`/v1/alerts/${fired.body.alert}`)).status === 404 ? true : undefined), 10_000, 200);
      gw.h.sim.reset();
      await expectResolvedMessageOnly(
        gw.h,
        await gw.h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(resolvedPayload('expired')),
      );
    } finally {
      await gw.close();
      await am.stop();
    }
  }, 30_000);

  it('when the group was recorded by a gateway before this one (another record shape), then it reads as none and its resolution is a resolved message', async () => {
    const am = await startAlertmanager();
    const gw = await startCardGateway(am.port);
    try {
      const fired = await gw.h.api
        .post('/v1/integrations/alertmanager?users=zhangsan')
        .send(amPayload({ groupKey: 'upgraded', alerts: [amAlert({ startsAt: ago(3_600_000) })] }));
      await eventually(() => gw.h.sim.cards[0]);
      await gw.h.redis.hdel(gw.h.keys.alerts.group(fired.body.alert), 'format');
      gw.h.sim.reset();
      await expectResolvedMessageOnly(
        gw.h,
        await gw.h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(resolvedPayload('upgraded')),
      );
    } finally {
      await gw.close();
      await am.stop();
    }
  });

  it('when the gateway restarted on a Redis that lost everything, then the resolution is a resolved message', async () => {
    const am = await startAlertmanager();
    const redis = await startTestRedis();
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix() };
    try {
      const first = await startCardGateway(am.port, env);
      await first.h.api
        .post('/v1/integrations/alertmanager?users=zhangsan')
        .send(amPayload({ groupKey: 'lost', alerts: [amAlert({ startsAt: ago(3_600_000) })] }));
      await eventually(() => first.h.sim.cards[0]);
      await first.close();
      const lose = new Redis(redis.url);
      await lose.flushall();
      await lose.quit();
      const second = await startCardGateway(am.port, env);
      try {
        await expectResolvedMessageOnly(
          second.h,
          await second.h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(resolvedPayload('lost')),
        );
      } finally {
        await second.close();
      }
    } finally {
      await redis.stop();
      await am.stop();
    }
  }, 30_000);
});

/** 02:13 UTC shown in Shanghai as `MM-DD HH:mm` (UTC+8, no daylight saving). */
const shanghaiDay = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(5, 16).replace('T', ' ');

describe('true times on cards and messages (real Alertmanager)', () => {
  let am: Alertmanager;
  let gw: Awaited<ReturnType<typeof startCardGateway>>;

  beforeAll(async () => {
    const amPort = await freePort();
    gw = await startCardGateway(amPort, { WECOM_ROBOTS: 'ops=times-robot-key' });
    am = await startAlertmanager(webhookConfig(`${gw.base}/v1/integrations/alertmanager?users=zhangsan&robots=ops`), amPort);
  }, 30_000);
  afterAll(async () => {
    await am?.stop();
    await gw?.close();
  });

  it('when an alert has fired for five days, then the card and the markdown say since when with the date; its 2 h outage resolves as lasted 2 h', async () => {
    const startsAt = Date.now() - 5 * 86_400_000;
    const alert = {
      labels: { alertname: 'CertExpiring', severity: 'warning', instance: 'lb1:443' },
      annotations: { summary: 'certificate expires soon' },
      startsAt: new Date(startsAt).toISOString(),
    };
    await postAlerts(am.port, [alert]);
    const card = await eventually(() => gw.h.sim.cards.find((c) => JSON.stringify(c.card).includes('CertExpiring')), 15_000, 50);
    expect(cardBody(card).main_title.desc).toBe(`${shanghaiDay(startsAt)} 起 · 1 条告警`);
    const robot = await eventually(() => gw.h.sim.robotSent.find((m) => body(m).includes('CertExpiring')));
    expect(body(robot)).toContain(`· ${shanghaiDay(startsAt)} 起`);

    await postAlerts(am.port, [{ ...alert, endsAt: new Date(startsAt + 2 * 3_600_000).toISOString() }]);
    const resolved = await eventually(() => card.updates.find((u) => u.kind === 'send'), 15_000, 50);
    expect((resolved.template_card as { replace_text: string }).replace_text).toBe('已恢复 · 持续 2 小时');
    const robotResolved = await eventually(() => gw.h.sim.robotSent.find((m) => body(m).includes('✅ 已恢复 CertExpiring')));
    expect(body(robotResolved)).toContain('· 持续 2 小时');
  }, 40_000);
});

describe('every card follows the group (escalated to three levels and a robot)', () => {
  let am: Alertmanager;
  let gw: Awaited<ReturnType<typeof startCardGateway>>;
  let h: Harness;
  const levels = withAlertRoutes({
    name: 'oncall',
    users: ['zhangsan'],
    escalation: [
      { after: parseDuration('1s')!, to: { users: ['lisi'] } },
      { after: parseDuration('1s')!, to: { users: ['wangwu'], robots: ['ops'] } },
    ],
  });

  beforeAll(async () => {
    am = await startAlertmanager();
    gw = await startCardGateway(am.port, { WECOM_ROBOTS: 'ops=levels-robot-key' }, { config: levels });
    h = gw.h;
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await am?.stop();
  });

  const cardOf = (user: string) => eventually(() => h.sim.cards.find((c) => c.to.users.includes(user)), 10_000);

  it('when the level-2 member acks, then the level-0 and level-1 cards say so too and the robot is told; a later silence reaches every card, and a click on a stale card gets the state, not a second silence', async () => {
    const fired = await h.api.post('/v1/integrations/alertmanager?route=oncall').send(
      amPayload({
        groupKey: 'levels',
        commonLabels: { alertname: 'ApiDown', severity: 'critical' },
        alerts: [amAlert({ labels: { alertname: 'ApiDown', severity: 'critical', instance: 'api-1' } })],
      }),
    );
    const [l0, l1, l2] = [await cardOf('zhangsan'), await cardOf('lisi'), await cardOf('wangwu')];
    await eventually(() => h.sim.robotSent.find((m) => body(m).includes('ApiDown')));

    await h.sim.click({ user: 'wangwu', key: 'ack', taskId: l2.taskId });
    await eventually(() => (l0.updates.length > 0 && l1.updates.length > 0 && l2.updates.length > 0) || undefined);
    for (const card of [l0, l1, l2]) {
      expect(lastShown(card).sub_title_text).toContain('已认领 · wangwu');
      expect(
        lastShown(card)
          .button_list.map((b) => b.key)
          .filter(Boolean),
      ).toEqual(['silence:1h', 'silence:4h']);
    }
    // The clicked card with its click's code, the others each with their send's code.
    expect([l0, l1, l2].map((c) => c.updates[0].kind)).toEqual(['send', 'send', 'click']);
    const told = await eventually(() => h.sim.robotSent.find((m) => body(m).includes('已认领 · wangwu')));
    expect(told.msgtype).toBe('markdown');

    await h.sim.click({ user: 'lisi', key: 'silence:1h', taskId: l1.taskId });
    await eventually(async () => ((await h.api.get(`/v1/alerts/${fired.body.alert}`)).body.status === 'silenced' ? true : undefined));
    // lisi's card by the click, wangwu's by its unused send code; zhangsan's send code is spent, so a message tells him.
    await eventually(
      () => (lastShown(l1).replace_text === '已静默 1h · lisi' && lastShown(l2).replace_text === '已静默 1h · lisi') || undefined,
    );
    const toZhangsan = await eventually(() =>
      h.sim.sent.find((m) => m.touser.includes('zhangsan') && body(m).includes('已静默 1h · lisi')),
    );
    expect(toZhangsan.msgtype).toBe('markdown');
    await eventually(() => h.sim.robotSent.find((m) => body(m).includes('已静默 1h · lisi')));

    // zhangsan's card still shows silence buttons (its code was spent on the ack): his click is answered with the state.
    await h.sim.click({ user: 'zhangsan', key: 'silence:4h', taskId: l0.taskId });
    await eventually(() => (lastShown(l0).replace_text === '已静默 1h · lisi' ? true : undefined));
    expect(l0.updates.at(-1)!.kind).toBe('click');
    expect((await silences(am.port)).filter((s) => s.matchers.some((m) => m.value === 'ApiDown'))).toHaveLength(1);
  }, 30_000);
});

describe('each source silences in its own Alertmanager', () => {
  let prometheusAm: Alertmanager;
  let grafanaAm: Alertmanager;

  beforeAll(async () => {
    [prometheusAm, grafanaAm] = await Promise.all([startAlertmanager(), startAlertmanager()]);
  }, 30_000);
  afterAll(async () => {
    await prometheusAm?.stop();
    await grafanaAm?.stop();
  });

  const grafanaFiring = {
    receiver: 'wecom',
    status: 'firing',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'HighLatency', service: 'checkout', severity: 'warning' },
        annotations: { summary: 'p99 over 2s' },
        startsAt: ago(600_000),
        fingerprint: 'gf1',
        values: { A: 2.3 },
        valueString: "[ var='A' value=2.3 ]",
      },
    ],
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency', service: 'checkout', severity: 'warning' },
    groupKey: '{}:{alertname="HighLatency"}',
  };

  it("when a member silences a Grafana alert, then the silence is in Grafana's Alertmanager, not in Prometheus'", async () => {
    const gw = await startCardGateway(prometheusAm.port, { GRAFANA_ALERTMANAGER_URL: `http://127.0.0.1:${grafanaAm.port}` });
    try {
      const fired = await gw.h.api.post('/v1/integrations/grafana?users=zhangsan').send(grafanaFiring);
      const card = await eventually(() => gw.h.sim.cards[0]);
      expect(cardBody(card).sub_title_text).toContain("当前值：[ var='A' value=2.3 ]");
      await gw.h.sim.click({ user: 'zhangsan', key: 'silence:1h', taskId: card.taskId });
      const silence = await eventually(async () =>
        (await silences(grafanaAm.port)).find((s) => s.matchers.some((m) => m.value === 'HighLatency')),
      );
      expect(silence.matchers.map((m) => `${m.name}=${m.value}`).sort()).toEqual([
        'alertname=HighLatency',
        'service=checkout',
        'severity=warning',
      ]);
      expect((await silences(prometheusAm.port)).filter((s) => s.matchers.some((m) => m.value === 'HighLatency'))).toEqual([]);
      await eventually(async () => ((await gw.h.api.get(`/v1/alerts/${fired.body.alert}`)).body.status === 'silenced' ? true : undefined));
    } finally {
      await gw.close();
    }
  });

  it('when only ALERTMANAGER_URL is set, then a Grafana card offers ack but no silence it could not honour', async () => {
    const gw = await startCardGateway(prometheusAm.port);
    try {
      await gw.h.api.post('/v1/integrations/grafana?users=zhangsan').send(grafanaFiring);
      const card = await eventually(() => gw.h.sim.cards[0]);
      expect(
        cardBody(card)
          .button_list.map((b) => b.key)
          .filter(Boolean),
      ).toEqual(['ack']);
      expect(cardBody(card).sub_title_text ?? '').not.toContain('静默范围');
    } finally {
      await gw.close();
    }
  });

  it("when a route names its own alertmanager, then that route's silences go there", async () => {
    const gw = await startCardGateway(
      prometheusAm.port,
      {},
      { config: routes({ alertmanager: `http://127.0.0.1:${grafanaAm.port}`, escalation: undefined }) },
    );
    try {
      await gw.h.api.post('/v1/integrations/alertmanager?route=oncall').send(
        amPayload({
          groupKey: 'routed',
          commonLabels: { alertname: 'RoutedSilence' },
          alerts: [amAlert({ labels: { alertname: 'RoutedSilence', instance: 'x1' } })],
        }),
      );
      const card = await eventually(() => gw.h.sim.cards[0]);
      await gw.h.sim.click({ user: 'zhangsan', key: 'silence:1h', taskId: card.taskId });
      await eventually(async () => (await silences(grafanaAm.port)).find((s) => s.matchers.some((m) => m.value === 'RoutedSilence')));
      expect((await silences(prometheusAm.port)).filter((s) => s.matchers.some((m) => m.value === 'RoutedSilence'))).toEqual([]);
    } finally {
      await gw.close();
    }
  });
});

describe('a 250-alert storm into one person and one robot', () => {
  let gw: Awaited<ReturnType<typeof startCardGateway>>;
  let h: Harness;
  // The storm lands in one minute, the resolutions a minute later.
  const clock = minuteClock();
  const hosts = Array.from({ length: 250 }, (_, i) => `web-${String(i + 1).padStart(3, '0')}`);
  const storm = (status: 'firing' | 'resolved', startsAt: string) =>
    hosts.map((host) =>
      amPayload({
        groupKey: `{}:{alertname="HostHighLoad", instance="${host}"}`,
        status,
        groupLabels: { alertname: 'HostHighLoad', instance: host },
        commonLabels: { alertname: 'HostHighLoad', severity: 'warning', instance: host },
        alerts: [
          amAlert({
            status,
            fingerprint: `load-${host}`,
            labels: { alertname: 'HostHighLoad', severity: 'warning', instance: host },
            annotations: { summary: `load 12 on ${host}` },
            startsAt,
            ...(status === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
          }),
        ],
      }),
    );
  const post = async (payloads: Record<string, unknown>[]) => {
    const answers: string[] = [];
    for (let i = 0; i < payloads.length; i += 25)
      answers.push(
        ...(await Promise.all(payloads.slice(i, i + 25).map((p) => h.api.post('/v1/integrations/alertmanager?route=storm').send(p)))).map(
          (r) => r.body.status,
        ),
      );
    return answers;
  };
  const promoteDigests = async () => {
    for (const job of await h.gateway.queues.get('alert-digest')!.getDelayed()) await job.promote();
  };

  beforeAll(async () => {
    // WeCom's 20 robot messages a minute, compressed as the clock is: 20 in 5 s, at the simulator and at the gateway alike.
    gw = await startCardGateway(
      await freePort(),
      { WECOM_ROBOTS: 'ops=storm-robot-key', STORM_PER_RECIPIENT_PER_MINUTE: '10', ROBOT_QUOTA: '20/5' },
      {
        config: (c) => ({
          ...c,
          alerts: { ...c.alerts, routes: [{ name: 'storm', users: ['zhangsan'], robots: ['ops'], mentions: { users: ['zhangsan'] } }] },
        }),
        clock: clock.now,
        simulator: { robotLimit: { count: 20, windowMs: 5_000 } },
      },
    );
    h = gw.h;
  }, 30_000);
  afterAll(() => gw?.close());

  it("when 250 HostHighLoad groups fire in a minute and then resolve, then each side gets at most 10 a minute and one digest naming the hosts within WeCom's limits, @-mentioning once, resolutions counted apart", async () => {
    const startsAt = ago(120_000);
    const answers = await post(storm('firing', startsAt));
    expect(answers.filter((a) => a === 'queued')).toHaveLength(10);
    expect(answers.filter((a) => a === 'folded')).toHaveLength(240);
    await eventually(() => (h.sim.cards.length === 10 && h.sim.robotSent.length === 10) || undefined);
    await promoteDigests();
    const personDigest = await eventually(() => h.sim.sent.find((m) => body(m).includes('告警风暴')));
    const robotDigest = await eventually(() => h.sim.robotSent.find((m) => body(m).includes('告警风暴')));
    const personText = (personDigest.body.markdown as { content: string }).content;
    const robotText = robotDigest.body.content as string;
    // Where, and since when: the alerts began two minutes before (with the date when that was yesterday in Shanghai).
    const since = shanghaiSince(startsAt, clock.now());
    expect(personText).toMatch(
      new RegExp(
        `^\\*\\*🌀 告警风暴：60 秒内另有 240 条通知\\*\\*\\n` +
          `> <font color="warning">🔥 HostHighLoad</font> ×240：web-\\d{3}, web-\\d{3}, .*… web-250 · ${since} 起$`,
      ),
    );
    expect(Buffer.byteLength(personText)).toBeLessThanOrEqual(2048);
    expect(Buffer.byteLength(robotText)).toBeLessThanOrEqual(4096);
    // The route's mention, once, in the robot's digest; each of the ten messages had it too.
    expect(robotText.match(/<@zhangsan>/g)).toHaveLength(1);
    expect(robotDigest.mentioned).toEqual(['zhangsan']);
    const calls = (api: string) => h.sim.calls.filter((c) => c.api === api).length;
    const firingFigures = {
      person: h.sim.sent.length,
      robot: h.sim.robotSent.length,
      send: calls('message/send'),
      webhook: calls('webhook/send'),
    };

    // A minute later (the robot's window, 5 s here, has passed too).
    await sleep(5_000);
    clock.ahead = 60_000;
    const resolved = await post(storm('resolved', startsAt));
    // The ten followed groups update their cards in place; the 240 others pass storm control like any notification.
    expect(resolved.filter((a) => a === 'updated')).toHaveLength(10);
    expect(resolved.filter((a) => a === 'folded').length).toBeGreaterThanOrEqual(230);
    await eventually(() => h.sim.cards.every((c) => lastShown(c).replace_text?.startsWith('已恢复')) || undefined);
    await sleep(1_000);
    await promoteDigests();
    const digests = await eventually(() => {
      const found = h.sim.robotSent.filter((m) => body(m).includes('告警风暴'));
      return found.length === 2 ? found : undefined;
    });
    const second = digests[1].body.content as string;
    expect(second).toMatch(/✅ 已恢复 HostHighLoad<\/font> ×\d+：web-\d{3}, .*… web-250/);
    expect(second).not.toContain('🔥');
    const robotSecondMinute = h.sim.robotSent.length - firingFigures.robot;
    const personSecondMinute = h.sim.sent.length - firingFigures.person;
    expect(robotSecondMinute).toBeLessThanOrEqual(11);
    expect(personSecondMinute).toBeLessThanOrEqual(11);
    expect(h.sim.sent.slice(firingFigures.person).every((m) => !body(m).includes('🔥 告警'))).toBe(true);
    process.stdout.write(`alert storm digests to the robot:\n${robotText}\n${second}\n`);
    process.stdout.write(
      `alert storm: 250 HostHighLoad groups to one person and one robot -> firing: person ${h.sim.cards.length} cards ` +
        `+ 1 digest, robot ${firingFigures.robot - 1} messages + 1 digest (${firingFigures.send} ` +
        `message/send, ${firingFigures.webhook} webhook/send); resolved a minute ` +
        `later: ${resolved.filter((a) => a === 'updated').length} cards updated in place, person ${personSecondMinute} messages, ` +
        `robot ${robotSecondMinute} messages (digest included); WeCom calls in all: ${calls('message/send')} ` +
        `message/send, ${calls('webhook/send')} webhook/send, ${calls('message/update_template_card')} update_template_card; ` +
        `45009: ${h.sim.calls.filter((c) => c.errcode === 45009).length}\n`,
    );
  }, 60_000);
});

describe('the card shows what matters, in the configured language', () => {
  it('when alerts carry cluster and container labels besides the instance, then the item key is the instance, and the description shows; with ALERT_LANGUAGE=en every text is English', async () => {
    const labels = { alertname: 'PodCrashLooping', severity: 'critical', cluster: 'prod-sh', container: 'api', instance: '10.0.3.7:8080' };
    for (const [language, expected] of [
      ['zh', { desc: '起 · 1 条告警', buttons: ['认领', '静默 1h', '静默 4h'], description: 'restarted 5 times in 10 minutes' }],
      ['en', { desc: 'since ', buttons: ['Ack', 'Silence 1h', 'Silence 4h'], description: 'restarted 5 times in 10 minutes' }],
    ] as const) {
      const gw = await startCardGateway(await freePort(), { ALERT_LANGUAGE: language });
      try {
        await gw.h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(
          amPayload({
            groupKey: 'crash',
            commonLabels: labels,
            alerts: [amAlert({ labels, annotations: { summary: 'api is crash looping', description: 'restarted 5 times in 10 minutes' } })],
          }),
        );
        const card = cardBody(await eventually(() => gw.h.sim.cards[0]));
        expect(card.main_title.desc).toContain(expected.desc);
        expect((card as unknown as { horizontal_content_list: { keyname: string }[] }).horizontal_content_list[0].keyname).toBe(
          '10.0.3.7:8080',
        );
        expect(card.sub_title_text).toContain(expected.description);
        expect(card.button_list.slice(0, 3).map((b) => b.text)).toEqual(expected.buttons);
      } finally {
        await gw.close();
      }
    }
  });
});

describe('nothing unrouted is lost', () => {
  const paymentsOnly: (c: Config) => Config = (c) => ({
    ...c,
    alerts: { ...c.alerts, routes: [{ name: 'payments', users: ['pay01'], match: { labels: { team: 'payments' } } }] },
  });

  it('when no route matches and none is the fallback, then the notification is answered 503, logged at error and counted, and a real Alertmanager retries it', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) }));
    const h = await startHarness({ config: paymentsOnly, logger });
    const served = await listen(h.gateway.app);
    const am = await startAlertmanager(webhookConfig(`${served.base}/v1/integrations/alertmanager`));
    try {
      await postAlerts(am.port, [
        { labels: { alertname: 'OrphanAlert', severity: 'warning', team: 'search' }, annotations: { summary: 'nobody routes me' } },
      ]);
      // Alertmanager tries again after the 503: the gateway counts each try.
      const unrouted = async () =>
        Number((await metricLines(h.api, 'wecom_gateway_alerts_unrouted_total')).match(/source="alertmanager"} (\d+)/)?.[1] ?? 0);
      await eventually(async () => ((await unrouted()) >= 2 ? true : undefined), 20_000, 200);
      const logged = lines
        .map((l) => JSON.parse(l) as { level: number; msg: string; labels?: Record<string, string> })
        .find((l) => l.msg.startsWith('alert notification unrouted'));
      expect(logged).toMatchObject({ level: 50, labels: { alertname: 'OrphanAlert', team: 'search' } });
      expect(h.sim.sent).toEqual([]);
    } finally {
      await am.stop();
      await served.close();
      await h.close();
    }
  }, 40_000);

  it('when a route is the fallback, then what no other route matches goes there', async () => {
    const h = await startHarness({
      config: (c) => ({
        ...c,
        alerts: { ...c.alerts, routes: [...paymentsOnly(c).alerts.routes, { name: 'everything-else', users: ['ops01'], fallback: true }] },
      }),
    });
    try {
      const res = await h.api
        .post('/v1/integrations/alertmanager')
        .send(amPayload({ groupKey: 'orphan', commonLabels: { alertname: 'OrphanAlert', team: 'search' } }));
      expect(res.status).toBe(202);
      const message = await eventually(() => h.sim.sent[0]);
      expect(message.touser).toEqual(['ops01']);
    } finally {
      await h.close();
    }
  });

  it('when routes are configured and none is the fallback, then start-up warns; two fallbacks, or a fallback with a match, stop it', () => {
    const base = loadConfig({});
    const withRoutes = (routes: Config['alerts']['routes']) => startupWarnings({ ...base, alerts: { ...base.alerts, routes } });
    expect(withRoutes([{ name: 'payments', users: ['pay01'], match: { labels: { team: 'payments' } } }])).toEqual(
      expect.arrayContaining([expect.stringMatching(/^no alert route is the fallback \(fallback: true\)/)]),
    );
    expect(withRoutes([{ name: 'all', users: ['ops01'], fallback: true }]).filter((w) => w.includes('fallback'))).toEqual([]);
  });
});

describe('a group belongs to its caller', () => {
  const KEY_A = 'team-a-key-000000001';
  const KEY_B = 'team-b-key-000000002';
  let am: Alertmanager;
  let gw: Awaited<ReturnType<typeof startCardGateway>>;
  const as = (key: string, payload: Record<string, unknown>) =>
    gw.h.api.post('/v1/integrations/alertmanager?users=zhangsan').set('Authorization', `Bearer ${key}`).send(payload);
  const firing = (groupKey: string) =>
    amPayload({
      groupKey,
      commonLabels: { alertname: 'OwnedAlert', severity: 'critical' },
      alerts: [amAlert({ labels: { alertname: 'OwnedAlert', severity: 'critical', instance: 'db1:9100' } })],
    });
  const resolvedPayload = (groupKey: string) => ({
    ...firing(groupKey),
    status: 'resolved',
    alerts: [
      amAlert({
        status: 'resolved',
        labels: { alertname: 'OwnedAlert', severity: 'critical', instance: 'db1:9100' },
        endsAt: new Date().toISOString(),
      }),
    ],
  });

  beforeAll(async () => {
    am = await startAlertmanager();
    gw = await startCardGateway(am.port, { GATEWAY_API_KEYS: `${KEY_A},${KEY_B}:send+read` });
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await am?.stop();
  });

  it("when another key posts the same groupKey resolved, then the owner's group stays firing and its card untouched", async () => {
    const opened = await as(KEY_A, firing('{}:{alertname="OwnedAlert"}'));
    const card = await eventually(() => gw.h.sim.cards.find((c) => c.taskId.includes(opened.body.alert)));
    const theirs = await as(KEY_B, resolvedPayload('{}:{alertname="OwnedAlert"}'));
    expect(theirs.body.alert).toBeUndefined();
    await sleep(500);
    expect(card.updates).toEqual([]);
    expect((await gw.h.api.get(`/v1/alerts/${opened.body.alert}`).set('Authorization', `Bearer ${KEY_A}`)).body.status).toBe('firing');
  });

  it("when another key posts a groupKey first, then the owner's notification still opens its own group, which the owner sees", async () => {
    const squatter = await as(KEY_B, firing('{}:{alertname="Squatted"}'));
    const owner = await as(KEY_A, firing('{}:{alertname="Squatted"}'));
    expect(owner.body.alert).not.toBe(squatter.body.alert);
    const listed = (await gw.h.api.get('/v1/alerts').set('Authorization', `Bearer ${KEY_B}`)).body.alerts.map((a: { id: string }) => a.id);
    expect(listed).toContain(squatter.body.alert);
    expect(listed).not.toContain(owner.body.alert);
    expect((await gw.h.api.get(`/v1/alerts/${owner.body.alert}`).set('Authorization', `Bearer ${KEY_B}`)).status).toBe(404);
  });

  it('when the config file gives two keys one alertOwner (two Alertmanager replicas), then one key resolves the group the other opened, and both see it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-owner-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      [
        'apiKeys:',
        '  - { name: am-1, key: replica-one-key-0001, permissions: [send, read], alertOwner: prometheus-ha }',
        '  - { name: am-2, key: replica-two-key-0002, permissions: [send, read], alertOwner: prometheus-ha }',
        '',
      ].join('\n'),
    );
    const shared = await startCardGateway(am.port, { GATEWAY_CONFIG: file });
    const post = (key: string, payload: Record<string, unknown>) =>
      shared.h.api.post('/v1/integrations/alertmanager?users=zhangsan').set('Authorization', `Bearer ${key}`).send(payload);
    try {
      const opened = await post('replica-one-key-0001', firing('{}:{alertname="Shared"}'));
      const resolved = await post('replica-two-key-0002', resolvedPayload('{}:{alertname="Shared"}'));
      expect(resolved.body).toEqual({ alert: opened.body.alert, status: 'updated' });
      expect(
        (await shared.h.api.get(`/v1/alerts/${opened.body.alert}`).set('Authorization', 'Bearer replica-two-key-0002')).body.status,
      ).toBe('resolved');
    } finally {
      await shared.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when a payload claims only severity: critical in common, then a silence matches the labels its alert really carries, and the card shows them before the click', async () => {
    const res = await as(
      KEY_A,
      amPayload({
        groupKey: 'claims',
        commonLabels: { severity: 'critical' },
        alerts: [amAlert({ labels: { alertname: 'Claimed', severity: 'critical', instance: 'db7:9100' } })],
      }),
    );
    const card = await eventually(() => gw.h.sim.cards.find((c) => c.taskId.includes(res.body.alert)));
    expect(cardBody(card).sub_title_text).toContain('静默范围：alertname=Claimed, severity=critical, instance=db7:9100');
    await gw.h.sim.click({ user: 'zhangsan', key: 'silence:1h', taskId: card.taskId });
    const silence = await eventually(async () => (await silences(am.port)).find((s) => s.matchers.some((m) => m.value === 'Claimed')));
    expect(silence.matchers.map((m) => `${m.name}=${m.value}`).sort()).toEqual([
      'alertname=Claimed',
      'instance=db7:9100',
      'severity=critical',
    ]);
  });
});
