import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startHarness, type Harness } from '../support/harness';
import { binaryPath } from '../support/prerequisites';
import { metricNames } from '../support/promql';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Panel = { title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] };
type Dashboard = { panels: Panel[]; templating: { list: { name: string; type: string; query: unknown; current?: { value?: string } }[] } };
type Rule = { alert: string; expr: string; annotations?: Record<string, string> };
const dashboard = JSON.parse(read('deploy/grafana/dashboards/wecom-gateway.json')) as Dashboard;
const rules = (parse(read('deploy/prometheus/wecom-gateway-rules.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** `up` comes from Prometheus itself, not from the gateway's /metrics. */
const FROM_PROMETHEUS = new Set(['up']);

describe('observability: /metrics, the Grafana dashboard and the alert rules', () => {
  let h: Harness;
  let exposed: Map<string, string>;
  beforeAll(async () => {
    h = await startHarness();
    const text = (await h.api.get('/metrics').expect(200)).text;
    exposed = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
  });
  afterAll(() => h.close());

  const missingFromMetrics = (names: string[]) => names.filter((n) => !FROM_PROMETHEUS.has(n) && !exposed.has(n));

  it('when /metrics is scraped, then process and Node.js metrics have their standard names', () => {
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes'])
      expect([name, exposed.has(name)]).toEqual([name, true]);
    expect([...exposed.keys()].filter((n) => n.startsWith('wecom_gateway_process') || n.startsWith('wecom_gateway_nodejs'))).toEqual([]);
  });

  it('when the gateway registers a counter, then its name ends in _total', () => {
    const counters = [...exposed].filter(([name, type]) => name.startsWith('wecom_gateway_') && type === 'counter').map(([name]) => name);
    expect(counters.length).toBeGreaterThan(10);
    expect(counters.filter((n) => !n.endsWith('_total'))).toEqual([]);
  });

  it('when the dashboard queries a metric, then the gateway exposes it', () => {
    const used = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr)));
    expect(used).toEqual(
      expect.arrayContaining(['wecom_gateway_send_latency_seconds', 'wecom_gateway_robot_deferred_total', 'process_cpu_seconds_total']),
    );
    expect(missingFromMetrics(used)).toEqual([]);
  });

  it('when an operator opens the dashboard, then it has the panels the runbook refers to', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const title of [
      'Messages accepted, sent and failed by event',
      'Accepted → sent latency p50/p99',
      'WeCom calls by api and errcode',
      '60020 IP not trusted (last hour)',
      '45009 over the limit (last hour)',
      'Token fetches by result',
      'Queue depth by queue and state',
      'Oldest waiting job per queue',
      'Deferrals: member budget and robot budgets',
      'Callbacks by outcome',
      'Contact-sync lag per sink',
      "Welcome latency p50/p99 (WeCom's window: 20 s)",
      'Alert notifications by decision (folded = storm control)',
      'Process CPU',
      'Process memory (RSS)',
    ])
      expect(titles).toContain(title);
  });

  it('when Grafana is provisioned, then the YAML parses and the dashboard defaults to the provisioned data source', () => {
    const datasources = (
      parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { uid: string; type: string }[] }
    ).datasources;
    const providers = (
      parse(read('deploy/grafana/provisioning/dashboards/wecom-gateway.yml')) as {
        providers: { type: string; options: { path: string } }[];
      }
    ).providers;
    expect(providers.map((p) => p.type)).toEqual(['file']);
    const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(datasources.filter((d) => d.type === 'prometheus').map((d) => d.uid)).toContain(variable?.current?.value);
    const uids = dashboard.panels.flatMap((p) => [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]);
    expect(new Set(uids)).toEqual(new Set(['${datasource}']));
  });

  it.each([
    ['check rules', 'deploy/prometheus/wecom-gateway-rules.yml'],
    ['check config', 'deploy/prometheus/prometheus.yml'],
    ['test rules', 'deploy/prometheus/wecom-gateway-rules.test.yml'],
  ])('when promtool runs %s on %s, then it succeeds', (command, file) => {
    // execFileSync throws (with promtool's output) on a non-zero exit.
    expect(() => execFileSync(binaryPath('promtool'), [...command.split(' '), file], { cwd: ROOT, stdio: 'pipe' })).not.toThrow();
  });

  it('when an alert rule fires, then it has a summary, a runbook in docs/operations.md and reads metrics the gateway exposes', () => {
    const headings = new Set([...read('docs/operations.md').matchAll(/^#{1,6} (.+)$/gm)].map((m) => githubAnchor(m[1])));
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const rule of rules) {
      expect([rule.alert, typeof rule.annotations?.summary]).toEqual([rule.alert, 'string']);
      const anchor = /\/docs\/operations\.md#([\w-]+)$/.exec(rule.annotations?.runbook_url ?? '')?.[1];
      expect([rule.alert, anchor !== undefined && headings.has(anchor)]).toEqual([rule.alert, true]);
    }
    expect(missingFromMetrics(rules.flatMap((r) => metricNames(r.expr)))).toEqual([]);
  });
});

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to '-'. */
function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}
