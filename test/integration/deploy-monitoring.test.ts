import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { parse, parseAllDocuments } from 'yaml';
import { createGateway, type Gateway } from '../../src/gateway';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { WecomSimulator } from '../../src/simulator/simulator';
import { amPayload } from '../support/alertmanager';
import { alert, eventually, finalStatus, SIM_APP, testConfig, uniquePrefix, UNLIMITED_SIM } from '../support/harness';
import { binaryPath } from '../support/prerequisites';
import { encryptedPush, memberTextXml } from '../support/wecom-push';
import { metricNames } from '../support/promql';

/**
 * What the shipped monitoring sees in Kubernetes: the example overlay's monitor
 * objects, followed to the pods they scrape, and every metric the alert rules and
 * the Grafana dashboard read, looked for in what those pods' roles really expose.
 * Every role registers every metric (one registry per process), so "exposed" here
 * means "has a sample after real traffic": a counter the worker increments is
 * only a HELP line on an API pod.
 */
const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Labels = Record<string, string>;
type Resource = { kind: string; metadata: { name: string; namespace?: string; labels?: Labels }; spec: any };

function render(dir: string): Resource[] {
  const out = execFileSync(binaryPath('kubectl'), ['kustomize', join(ROOT, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(out).map((d) => d.toJS() as Resource);
}

const selects = (selector: Labels, labels: Labels = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const podLabels = (d: Resource): Labels => d.spec.template.metadata.labels;
const containerOf = (d: Resource) =>
  d.spec.template.spec.containers[0] as { env: { name: string; value?: string }[]; ports: { name: string; containerPort: number }[] };
const workersOf = (d: Resource) => containerOf(d).env.find((e) => e.name === 'WORKERS')!.value!;

/** One scrape target group: a Deployment's pods, as Prometheus (Operator) scrapes them, and the job label they get. */
interface Scrape {
  deployment: string;
  job: string;
  path: string;
  containerPort: number | undefined;
}

/**
 * The targets the monitor objects make: a ServiceMonitor picks Services by label
 * and scrapes the pods behind their named port; a PodMonitor picks pods directly.
 * The job label is the jobLabel's value on the Service (or pod), as the operator does.
 */
function scrapes(resources: Resource[]): Scrape[] {
  const deployments = resources.filter((r) => r.kind === 'Deployment');
  const portOf = (d: Resource, port: string | number) =>
    containerOf(d).ports.find((p) => p.name === port || p.containerPort === port)?.containerPort;
  const found: Scrape[] = [];
  for (const monitor of resources.filter((r) => r.kind === 'ServiceMonitor')) {
    const services = resources.filter((r) => r.kind === 'Service' && selects(monitor.spec.selector.matchLabels, r.metadata.labels));
    for (const service of services)
      for (const endpoint of monitor.spec.endpoints) {
        const port = service.spec.ports.find((p: { name: string }) => p.name === endpoint.port);
        for (const d of deployments.filter((d) => selects(service.spec.selector, podLabels(d))))
          found.push({
            deployment: d.metadata.name,
            job: service.metadata.labels?.[monitor.spec.jobLabel] ?? service.metadata.name,
            path: endpoint.path ?? '/metrics',
            containerPort: port && portOf(d, port.targetPort),
          });
      }
  }
  for (const monitor of resources.filter((r) => r.kind === 'PodMonitor'))
    for (const endpoint of monitor.spec.podMetricsEndpoints)
      for (const d of deployments.filter((d) => selects(monitor.spec.selector.matchLabels, podLabels(d))))
        found.push({
          deployment: d.metadata.name,
          job: podLabels(d)[monitor.spec.jobLabel] ?? `${monitor.metadata.namespace}/${monitor.metadata.name}`,
          path: endpoint.path ?? '/metrics',
          containerPort: portOf(d, endpoint.port),
        });
  return found;
}

/** Metric families with at least one sample in a /metrics text (histograms by their base name). */
function sampled(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0].replace(/_(bucket|sum|count)$/, '')),
  );
}

type Rule = { alert: string; expr: string };
const rules = (parse(read('deploy/prometheus/wecom-gateway-rules.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
type Dashboard = { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { name: string; query: unknown }[] } };
const dashboard = JSON.parse(read('deploy/grafana/dashboards/wecom-gateway.json')) as Dashboard;
/** `up` is Prometheus' own, one per target: it is covered by the scrape itself. */
const FROM_PROMETHEUS = new Set(['up']);

const overlay = render('deploy/kubernetes/overlays/example');
const deployments = overlay.filter((r) => r.kind === 'Deployment');

describe('Kubernetes monitoring (the example overlay with its monitor) and what the gateway pods expose', () => {
  it('when the overlay is rendered, then every Deployment’s pods are scraped once, on their /metrics port, under the job the alert rules read', () => {
    const targets = scrapes(overlay);
    const jobs = new Set(rules.flatMap((r) => [...r.expr.matchAll(/\bup\{[^}]*job="([^"]+)"/g)].map((m) => m[1])));
    expect([...jobs]).toEqual(['wecom-gateway']);
    for (const d of deployments) {
      const port = containerOf(d).ports.find((p) => p.name === 'http')!.containerPort;
      expect([d.metadata.name, targets.filter((t) => t.deployment === d.metadata.name)]).toEqual([
        d.metadata.name,
        [{ deployment: d.metadata.name, job: 'wecom-gateway', path: '/metrics', containerPort: port }],
      ]);
    }
  });

  describe('each role the Deployments run, started as they start it (WORKERS from the manifests) on one Redis, with traffic through the API', () => {
    const TOKEN = 'deployMonitorToken';
    const AES_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg';
    let sim: WecomSimulator;
    const gateways = new Map<string, Gateway>();
    const exposed = new Map<string, Set<string>>();

    beforeAll(async () => {
      sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
      const shared = {
        REDIS_PREFIX: uniquePrefix(),
        WECOM_CALLBACK_TOKEN: TOKEN,
        WECOM_CALLBACK_AES_KEY: AES_KEY,
        // A robot allowed one message a minute: the second one is deferred (robot_deferred_total).
        WECOM_ROBOTS: 'ops=deploy-monitoring-robot-key',
        ROBOT_QUOTA: '1/60',
        // A sink: its sync loop reports its lag (0 when caught up); nothing listens, nothing is sent to it.
        CONTACT_SYNC_WEBHOOK_URL: 'http://127.0.0.1:9/changes',
      };
      for (const d of deployments)
        gateways.set(
          d.metadata.name,
          await createGateway(testConfig(sim.url, { ...shared, WORKERS: workersOf(d) }), { logger: pino({ level: 'silent' }) }),
        );

      // Callers reach the pods behind the API Service (the one the Ingress sends WeCom's callbacks to).
      const service = overlay.find((r) => r.kind === 'Service' && r.metadata.name === 'wecom-gateway')!;
      const api = request(gateways.get(deployments.find((d) => selects(service.spec.selector, podLabels(d)))!.metadata.name)!.app);
      const sent = (await api.post('/v1/messages').send(alert()).expect(202)).body.id as string;
      expect((await finalStatus(api, sent)).status).toBe('sent');
      sim.failNext(1, { errcode: 81013, errmsg: 'user & party & tag all invalid' });
      const failed = (
        await api
          .post('/v1/messages')
          .send(alert({ data: { title: 'bad', content: 'x', level: 'info' } }))
          .expect(202)
      ).body.id as string;
      expect((await finalStatus(api, failed)).status).toBe('failed');
      for (const title of ['first', 'second'])
        await api
          .post('/v1/messages')
          .send(alert({ to: { robots: ['ops'] }, data: { title, content: 'c', level: 'info' } }))
          .expect(202);
      const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
      const push = encryptedPush(
        wecom,
        SIM_APP.corpId,
        memberTextXml('hello', '7300000000000000099', String(Math.floor(Date.now() / 1000))),
      );
      await api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body).expect(200);
      await api.post('/v1/integrations/alertmanager?users=zhangsan').send(amPayload()).expect(202);
      // No recipients and no alert route: refused (Alertmanager retries), counted as unrouted.
      await api
        .post('/v1/integrations/alertmanager')
        .send(amPayload({ groupKey: 'unrouted' }))
        .expect(503);

      // Every pod gets the kubelet's probes, as the Deployments declare them.
      for (const gateway of gateways.values())
        for (const probe of ['/healthz', '/readyz']) await request(gateway.app).get(probe).expect(200);
      // Each role's /metrics once the robot's second message has been deferred
      // and the sink's lag reported (the last things the traffic causes).
      const scrapeAll = async () => {
        for (const [name, gateway] of gateways) exposed.set(name, sampled((await request(gateway.app).get('/metrics').expect(200)).text));
      };
      await eventually(
        async () => (
          await scrapeAll(),
          [...exposed.values()].some((s) => s.has('wecom_gateway_robot_deferred_total')) &&
            [...exposed.values()].some((s) => s.has('wecom_gateway_contact_sync_lag_seconds'))
        ),
        15_000,
        200,
      );
    }, 60_000);

    afterAll(async () => {
      for (const gateway of gateways.values()) await gateway.close();
      await sim?.stop();
    });

    const scrapedRoles = () => new Set(scrapes(overlay).map((t) => t.deployment));
    const unseen = (names: string[]) =>
      [...new Set(names)].filter((n) => !FROM_PROMETHEUS.has(n) && ![...scrapedRoles()].some((role) => exposed.get(role)?.has(n)));

    it('when the traffic has gone through, then the worker pods alone expose delivery (sent, failed, latency, robot deferrals, contact sync)', () => {
      // The premise of the scrape: if the API pods exposed these, scraping them alone would do.
      const api = [...gateways.keys()].find((name) => workersOf(deployments.find((d) => d.metadata.name === name)!) === 'api')!;
      const workers = [...gateways.keys()].filter((name) => name !== api);
      for (const name of [
        'wecom_gateway_messages_sent_total',
        'wecom_gateway_messages_failed_total',
        'wecom_gateway_send_latency_seconds',
        'wecom_gateway_robot_deferred_total',
        'wecom_gateway_contact_sync_lag_seconds',
      ]) {
        expect([name, exposed.get(api)!.has(name)]).toEqual([name, false]);
        expect([name, workers.some((w) => exposed.get(w)!.has(name))]).toEqual([name, true]);
      }
    });

    it('when a Prometheus alert rule reads a metric, then a scraped pod exposes it', () => {
      const used = rules.flatMap((r) => metricNames(r.expr));
      expect(used).toEqual(
        expect.arrayContaining([
          'wecom_gateway_messages_failed_total',
          'wecom_gateway_wecom_calls_total',
          'wecom_gateway_welcome_latency_seconds',
        ]),
      );
      expect(unseen(used)).toEqual([]);
    });

    it('when a Grafana dashboard panel reads a metric, then a scraped pod exposes it', () => {
      const used = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr)));
      expect(used).toEqual(
        expect.arrayContaining([
          'wecom_gateway_messages_sent_total',
          'wecom_gateway_send_latency_seconds',
          'wecom_gateway_robot_deferred_total',
        ]),
      );
      expect(unseen(used)).toEqual([]);
    });

    it('when the dashboard lists jobs and instances to pick, then every scraped pod is among them', () => {
      const variables = dashboard.templating.list
        .map((v) => (v.query as { query?: string })?.query)
        .filter((q): q is string => typeof q === 'string' && q.startsWith('label_values('));
      const names = variables.flatMap((q) => metricNames(/^label_values\((.*),\s*\w+\)$/.exec(q)![1]));
      expect(names.length).toBeGreaterThan(0);
      for (const role of scrapedRoles())
        for (const name of names) expect([role, name, exposed.get(role)!.has(name)]).toEqual([role, name, true]);
    });
  });
});
