import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertRoute } from '../../src/alerts/alerts-config';
import { withAlertRoutes } from '../support/alert-routes';
import { amAlert, amPayload } from '../support/alertmanager';
import { problemsOf } from '../support/config-problems';
import { eventually, metricLines, startHarness, type Harness } from '../support/harness';

/** 23:30 on 1 December in Shanghai (ALERT_TIMEZONE's default): inside 23:00-08:00. */
const NIGHT = Date.parse('2026-12-01T15:30:00Z');
/** 08:00 the next morning, when the night's quiet time ends. */
const MORNING = Date.parse('2026-12-02T00:00:00Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const NIGHT_ROUTE: AlertRoute = { name: 'night', users: ['ops1'], quietHours: { from: '23:00', to: '08:00', except: ['critical'] } };

/** A warning of `name` on `instance`, as Alertmanager posts it (its group: the alertname). */
const warning = (name: string, instance: string, status: 'firing' | 'resolved' = 'firing') =>
  amPayload({
    status,
    groupKey: `{}:{alertname="${name}"}`,
    groupLabels: { alertname: name },
    commonLabels: { alertname: name, severity: 'warning' },
    alerts: [
      amAlert({
        status,
        labels: { alertname: name, severity: 'warning', instance },
        fingerprint: `${name}-${instance}`,
        ...(status === 'resolved' ? { endsAt: '2026-12-01T16:00:00Z' } : {}),
      }),
    ],
  });

const text = (m: { body: Record<string, unknown> }) => JSON.stringify(m.body);

describe('quiet hours (a route holds its night notifications and sends one digest at its end)', () => {
  let h: Harness;
  let now = NIGHT;
  /** Each test has a night of its own (23:30, and the 08:00 it ends at), as days follow one another. */
  let night = NIGHT;
  let morningAt = MORNING;
  const post = (payload: object, harness = h) => harness.api.post('/v1/integrations/alertmanager?route=night').send(payload);
  /** The morning comes: the clock reaches 08:00 and the window's release job (delayed on BullMQ's own clock) is due now. */
  const morning = async (harness = h, releaseAt = morningAt) => {
    now = releaseAt;
    const job = await harness.gateway.queues.get('alert-digest')!.getJob(`quiet-night-${releaseAt}`);
    expect(job).toBeDefined();
    await job!.promote();
  };
  /** What GET /v1/alerts lists as held until this test's morning (earlier tests' nights are never released). */
  const heldTonight = async (harness = h) =>
    ((await harness.api.get('/v1/alerts')).body.held as { releaseAt: string }[]).filter((held) => held.releaseAt === iso(morningAt));
  const digestsAt = (harness: Harness) =>
    eventually(() => {
      const found = harness.sim.sent.filter((m) => text(m).includes('免打扰时段'));
      return found.length > 0 ? found : undefined;
    });

  beforeAll(async () => {
    h = await startHarness({ clock: () => now, config: withAlertRoutes(NIGHT_ROUTE) });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.sim.reset();
    night += DAY;
    morningAt += DAY;
    now = night;
  });

  it('when a warning arrives at 23:30, then it is held (202 held, releaseAt 08:00, counted) and a critical after it passes at once', async () => {
    const res = await post(warning('HostHighLoad', 'web-1'));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'held', releaseAt: iso(morningAt) });
    const critical = await post(amPayload());
    expect(critical.body.status).toBe('queued');
    const [first] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    expect(text(first)).toContain('DiskFull');
    // The critical went out, the warning posted before it did not.
    expect(h.sim.sent.filter((m) => text(m).includes('HostHighLoad'))).toEqual([]);
    expect(await metricLines(h.api, 'wecom_gateway_alert_notifications_total')).toContain(
      'wecom_gateway_alert_notifications_total{source="alertmanager",decision="held"}',
    );
  });

  it('when a warning arrives at noon, then it passes as usual', async () => {
    now = morningAt + 4 * 3_600_000;
    const res = await post(warning('HostHighLoad', 'web-1'));
    expect(res.body.status).toBe('queued');
    const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    expect(text(message)).toContain('HostHighLoad');
  });

  it('when the quiet time ends, then everything held goes out as one digest naming each alertname with its count and key label values', async () => {
    await post(warning('HostHighLoad', 'web-1'));
    await post(warning('HostHighLoad', 'web-2'));
    await post(warning('DiskSlow', 'db1:9100'));
    expect(h.sim.sent).toEqual([]);
    await morning();
    const [digest] = await digestsAt(h);
    expect(digest.touser).toEqual(['ops1']);
    const content = (digest.body.markdown as { content: string }).content;
    expect(content).toContain('免打扰时段 23:00–08:00：暂存了 3 条告警');
    expect(content).toContain('HostHighLoad</font> ×2：web-1, web-2');
    expect(content).toContain('DiskSlow</font> ×1：db1:9100');
    // Released: nothing is held any more, and the one digest is all that was sent.
    expect(await heldTonight()).toEqual([]);
    expect(h.sim.sent).toHaveLength(1);
  });

  it('when a held alert resolves during the night, then it is taken out of the digest (202 unheld) and nothing is sent for it', async () => {
    await post(warning('HostHighLoad', 'web-1'));
    await post(warning('DiskSlow', 'db1:9100'));
    const resolved = await post(warning('HostHighLoad', 'web-1', 'resolved'));
    expect(resolved.body).toEqual({ status: 'unheld', removed: 1 });
    await morning();
    const [digest] = await digestsAt(h);
    const content = (digest.body.markdown as { content: string }).content;
    expect(content).toContain('暂存了 1 条告警');
    expect(content).toContain('DiskSlow');
    expect(content).not.toContain('HostHighLoad');
    expect(h.sim.sent).toHaveLength(1);
  });

  it('when Alertmanager repeats a held alert, then it is held once, with the time it was first held', async () => {
    await post(warning('HostHighLoad', 'web-1'));
    now += 10 * 60_000;
    await post(warning('HostHighLoad', 'web-1'));
    expect(await heldTonight()).toEqual([
      {
        route: 'night',
        status: 'firing',
        alertname: 'HostHighLoad',
        severity: 'warning',
        labels: { instance: 'web-1' },
        since: '2026-11-24T02:00:00.000Z',
        heldAt: iso(night),
        releaseAt: iso(morningAt),
      },
    ]);
    await morning();
    const [digest] = await digestsAt(h);
    expect((digest.body.markdown as { content: string }).content).toContain('HostHighLoad</font> ×1：web-1');
  });

  it("when the console's alerts page is opened during the night, then it lists what is held and when it goes out", async () => {
    await post(warning('HostHighLoad', 'web-1'));
    const page = await h.api.get('/dashboard/alerts?lang=en');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Held by quiet hours');
    expect(page.text).toContain('<td>instance=web-1</td>');
    // 08:00 of this test's morning, in ALERT_TIMEZONE (Shanghai, UTC+8), as the console writes times.
    expect(page.text).toContain(`<td>${iso(morningAt + 8 * 3_600_000).slice(0, 10)} 08:00:00</td>`);
  });

  it('when it is 01:30, past midnight, then the warning is held until 08:00 of that same morning', async () => {
    now = night + 2 * 3_600_000;
    expect((await post(warning('HostHighLoad', 'web-1'))).body.releaseAt).toBe(iso(morningAt));
    // 23:30 of the day after: its own night, ending the morning after.
    now = night + DAY;
    expect((await post(warning('HostHighLoad', 'web-1'))).body.releaseAt).toBe(iso(morningAt + DAY));
  });

  it('when an alert is held after its window was released (an instance whose clock lags), then a job of its own sends it at once', async () => {
    await post(warning('HostHighLoad', 'web-1'));
    await morning();
    await digestsAt(h);
    now = morningAt - 2_000;
    h.sim.reset();
    expect((await post(warning('DiskSlow', 'db1:9100'))).body.status).toBe('held');
    const [late] = await digestsAt(h);
    const content = (late.body.markdown as { content: string }).content;
    expect(content).toContain('暂存了 1 条告警');
    expect(content).toContain('DiskSlow');
  });

  it('when the gateway is closed during the night and another starts on the same Redis, then the morning digest still goes out', async () => {
    await post(warning('HostHighLoad', 'web-1'));
    await post(warning('DiskSlow', 'db1:9100'));
    const next = await startHarness({ clock: () => now, env: { REDIS_PREFIX: h.keys.prefix }, config: withAlertRoutes(NIGHT_ROUTE) });
    const first = h;
    try {
      await first.gateway.close();
      expect(await heldTonight(next)).toHaveLength(2);
      await morning(next);
      const [digest] = await digestsAt(next);
      expect((digest.body.markdown as { content: string }).content).toContain('暂存了 2 条告警');
    } finally {
      await next.close();
      await first.redis.quit();
      await first.sim.stop();
      // The rest of the suite runs on a fresh gateway over the same Redis.
      h = await startHarness({ clock: () => now, env: { REDIS_PREFIX: h.keys.prefix }, config: withAlertRoutes(NIGHT_ROUTE) });
    }
  });
});

describe('quiet hours: a bad setting stops start-up naming it', () => {
  it('when a time is no HH:MM or from equals to, then the config file problem names the route and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-quiet-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      'alertRoutes:\n' +
        '  - { name: a, users: [u], quietHours: { from: "23:60", to: "08:00" } }\n' +
        '  - { name: b, users: [u], quietHours: { from: "08:00", to: "08:00" } }\n',
    );
    const problems = problemsOf({ GATEWAY_CONFIG: file });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${file}: alertRoutes.0.quietHours.from`),
        expect.stringContaining(`${file}: alertRoutes.1.quietHours.to: must differ from quietHours.from`),
      ]),
    );
  });
});
