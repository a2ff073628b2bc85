import { eventually, listen, startHarness, type Harness } from '../support/harness';
import { amAlert, amPayload, startAlertmanager, webhookConfig, type Alertmanager } from '../support/alertmanager';

const grafanaPayload = {
  receiver: 'wecom',
  status: 'firing',
  orgId: 1,
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'HighLatency', grafana_folder: 'API', severity: 'warning' },
      annotations: { summary: 'p99 over 2s' },
      startsAt: '2026-11-24T03:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://grafana.example/alerting/grafana/abc/view',
      fingerprint: 'g1',
      silenceURL: 'https://grafana.example/alerting/silence/new?alertmanager=grafana',
      dashboardURL: 'https://grafana.example/d/api',
      panelURL: 'https://grafana.example/d/api?viewPanel=2',
      valueString: "[ var='A' value=2.3 ]",
    },
  ],
  groupLabels: { alertname: 'HighLatency' },
  commonLabels: { alertname: 'HighLatency', severity: 'warning' },
  commonAnnotations: { summary: 'p99 over 2s' },
  externalURL: 'https://grafana.example/',
  version: '1',
  groupKey: '{}:{alertname="HighLatency"}',
  truncatedAlerts: 0,
  title: '[FIRING:1] HighLatency API',
  state: 'alerting',
  message: '**Firing** HighLatency',
};

const content = (m: { body: Record<string, unknown> }) => JSON.stringify(m.body);

describe('POST /v1/integrations/alertmanager and /grafana', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { STORM_PER_RECIPIENT_PER_MINUTE: '10' },
      config: (c) => ({
        ...c,
        alerts: {
          ...c.alerts,
          routes: [
            { name: 'dba', users: ['dba01', 'dba02'], msgtype: 'textcard' },
            { name: 'by-label', tags: ['7'], match: { labels: { team: 'payments' } } },
            { name: 'broken', users: ['ops01'], event: 'no.such.template' },
          ],
        },
      }),
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('when Alertmanager posts a firing group, then one markdown message lists status, names, severity, labels, summary, local start time and a silence link', async () => {
    const res = await h.api.post('/v1/integrations/alertmanager?users=zhangsan,lisi').send(amPayload());
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    expect(message.touser).toEqual(['zhangsan', 'lisi']);
    expect(message.msgtype).toBe('markdown');
    const text = (message.body.markdown as { content: string }).content;
    expect(text).toContain('**🔥 告警 DiskFull** (1) · 11-24 10:00 起');
    expect(text).toContain('[critical] Disk 95% on db1');
    expect(text).toContain('instance=db1:9100 job=node');
    expect(text).toContain('2026-11-24 10:00:00'); // 02:00 UTC in Asia/Shanghai
    expect(text).toContain('http://alertmanager.example:9093/#/silences/new?filter=');
  });

  it('when Grafana posts, then its alert becomes a message with its silence link', async () => {
    const res = await h.api.post('/v1/integrations/grafana?users=zhangsan&msgtype=text').send(grafanaPayload);
    expect(res.status).toBe(202);
    const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    const text = (message.body.text as { content: string }).content;
    expect(text).toContain('HighLatency [warning] p99 over 2s');
    expect(text).toContain('grafana.example/alerting/silence/new');
  });

  it('when a route is named, then its recipients and message type are used', async () => {
    expect((await h.api.post('/v1/integrations/alertmanager?route=dba').send(amPayload({ groupKey: 'dba-1' }))).status).toBe(202);
    const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    expect(message).toMatchObject({ msgtype: 'textcard', touser: ['dba01', 'dba02'] });
    expect(message.body.textcard).toMatchObject({ title: '🔥 告警 DiskFull (1)', url: 'http://prometheus.example/graph?g0.expr=disk' });
  });

  it('when no recipients are given, then a route matching the labels is used', async () => {
    const payload = amPayload({ groupKey: 'pay-1', commonLabels: { alertname: 'DiskFull', team: 'payments' } });
    expect((await h.api.post('/v1/integrations/alertmanager').send(payload)).status).toBe(202);
    const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    expect(message.totag).toEqual(['7']);
  });

  it('when a group is too large for one message, then five alerts are listed and the rest counted', async () => {
    const alerts = Array.from({ length: 8 }, (_, i) =>
      amAlert({ fingerprint: `big${i}`, labels: { alertname: 'DiskFull', severity: 'critical', instance: `db${i}` } }),
    );
    await h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(amPayload({ groupKey: 'big', alerts, truncatedAlerts: 2 }));
    const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    const text = (message.body.markdown as { content: string }).content;
    expect(text).toContain('(10)');
    expect(text).toContain('instance=db4');
    expect(text).not.toContain('instance=db5');
    expect(text).toContain('另有 5 条');
  });

  it('when a large group goes out as a textcard, then the card says first how many are shown, whatever its 512 bytes cut', async () => {
    const alerts = Array.from({ length: 8 }, (_, i) =>
      amAlert({ fingerprint: `card${i}`, labels: { alertname: 'DiskFull', severity: 'critical', instance: `db${i}` } }),
    );
    await h.api.post('/v1/integrations/alertmanager?route=dba').send(amPayload({ groupKey: 'big-card', alerts }));
    const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
    const description = (message.body.textcard as { description: string }).description;
    expect(description.startsWith('<div class="normal">显示 5/8 条</div>')).toBe(true);
    expect(Buffer.byteLength(description)).toBeLessThanOrEqual(512);
  });

  it('when Alertmanager retries the same notification, then the retry names the first message and nothing is sent twice', async () => {
    const payload = amPayload({ groupKey: 'retry-1' });
    const first = await h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(payload);
    const second = await h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(payload);
    expect(second.body).toEqual({ status: 'deduplicated', id: first.body.id });
    await eventually(() => h.sim.sent.length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.sim.sent).toHaveLength(1);
    const resolved = await h.api
      .post('/v1/integrations/alertmanager?users=zhangsan')
      .send(amPayload({ groupKey: 'retry-1', status: 'resolved', alerts: [amAlert({ status: 'resolved' })] }));
    expect(resolved.body.status).toBe('queued');
  });

  it.each([
    ['an unknown version', { version: '3' }, 'version'],
    ['an alert without startsAt', { alerts: [{ ...amAlert(), startsAt: undefined }] }, 'alerts.0.startsAt'],
    ['no alerts', { alerts: [] }, 'alerts'],
  ])('when the payload has %s, then 400 names the field', async (_name, overrides, field) => {
    const res = await h.api.post('/v1/integrations/alertmanager?users=zhangsan').send(amPayload(overrides));
    expect(res.status).toBe(400);
    expect(res.body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
  });

  it("when a notification cannot be accepted, then Alertmanager's retry is tried again, not answered as a duplicate", async () => {
    const payload = amPayload({ groupKey: 'broken-route' });
    const first = await h.api.post('/v1/integrations/alertmanager?route=broken').send(payload);
    const retry = await h.api.post('/v1/integrations/alertmanager?route=broken').send(payload);
    expect(first.status).toBe(404);
    expect(retry.status).toBe(404);
  });

  it('when the route is unknown, then 404; when nothing names recipients, then 503 so that Alertmanager retries', async () => {
    expect((await h.api.post('/v1/integrations/alertmanager?route=nope').send(amPayload())).status).toBe(404);
    const unrouted = await h.api.post('/v1/integrations/alertmanager').send(amPayload({ groupKey: 'nobody' }));
    expect(unrouted.status).toBe(503);
    expect(unrouted.body.error.code).toBe('unrouted');
    expect((await h.api.post('/v1/integrations/grafana?users=zhangsan').send({ status: 'firing' })).status).toBe(400);
  });

  it('when 1000 different notifications storm one person within a minute, then they get at most 10 messages and one digest of the rest', async () => {
    const storm = Array.from({ length: 1000 }, (_, i) =>
      amPayload({
        groupKey: `storm-${i}`,
        alerts: [amAlert({ fingerprint: `s${i}`, labels: { alertname: `Storm${i}`, severity: 'warning' } })],
        commonLabels: { alertname: `Storm${i}` },
      }),
    );
    const answers: string[] = [];
    for (let i = 0; i < storm.length; i += 50) {
      const batch = await Promise.all(
        storm.slice(i, i + 50).map((p) => h.api.post('/v1/integrations/alertmanager?users=oncall01').send(p)),
      );
      answers.push(...batch.map((r) => r.body.status));
    }
    const queued = answers.filter((s) => s === 'queued').length;
    const folded = answers.filter((s) => s === 'folded').length;
    // A minute boundary inside the burst gives a second window: at most 2 x 10 sent.
    expect(queued).toBeLessThanOrEqual(20);
    expect(queued + folded).toBe(1000);
    await eventually(() => h.sim.sent.length >= queued || undefined);
    const digests = await h.gateway.queues.get('alert-digest')!.getDelayed();
    expect(digests.length).toBeGreaterThanOrEqual(1);
    for (const job of digests) await job.promote();
    await eventually(() => h.sim.sent.some((m) => content(m).includes('告警风暴')) || undefined);
    const toOncall = h.sim.sent.filter((m) => m.touser.includes('oncall01'));
    const digest = toOncall.find((m) => content(m).includes('告警风暴'))!;
    expect((digest.body.markdown as { content: string }).content).toMatch(/告警风暴：60 秒内另有 \d+ 条通知/);
    expect(toOncall.length).toBeLessThanOrEqual(queued + digests.length);
    process.stdout.write(
      `alert storm: 1000 notifications -> ${queued} messages + ${digests.length} digest(s) to one ` +
        `person; ${h.sim.calls.filter((c) => c.api === 'message/send').length} WeCom send calls\n`,
    );
  }, 60_000);
});

describe('a real Prometheus Alertmanager', () => {
  let h: Harness;
  let served: Awaited<ReturnType<typeof listen>>;
  let am: Alertmanager;
  let config: string;

  beforeAll(async () => {
    h = await startHarness();
    served = await listen(h.gateway.app);
    config = webhookConfig(`${served.base}/v1/integrations/alertmanager?users=zhangsan`, { groupBy: ['alertname'] });
  });
  afterAll(async () => {
    await am?.stop();
    await served?.close();
    await h?.close();
  });

  it('when an alert is posted to Alertmanager, then it arrives at WeCom as a message', async () => {
    am = await startAlertmanager(config);
    const base = `http://127.0.0.1:${am.port}`;
    const posted = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: { alertname: 'RealDiskFull', severity: 'critical', instance: 'db9' },
          annotations: { summary: 'from a real Alertmanager' },
          generatorURL: 'http://prometheus.example/graph',
        },
      ]),
    });
    expect(posted.status).toBe(200);
    const message = await eventually(() => h.sim.sent.find((m) => content(m).includes('RealDiskFull')), 20_000, 100);
    expect((message.body.markdown as { content: string }).content).toContain('from a real Alertmanager');
    expect(message.touser).toEqual(['zhangsan']);
  }, 40_000);
});
