import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ALL_WORKERS, envSchema, SECRET_VARIABLES } from '../../src/config/env-schema';
import { binaryPath } from '../support/prerequisites';

const ROOT = join(__dirname, '..', '..');

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } };
type Container = {
  image: string;
  env: Env[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports: { name: string; containerPort: number }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  volumeMounts: { name: string; mountPath: string }[];
};
type Resource = { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec: any; data?: Record<string, string> };

/** What `kubectl kustomize <dir>` renders, as objects; what it warns of (deprecated fields) is kept per directory. */
const warnings = new Map<string, string>();
function render(dir: string): Resource[] {
  const run = spawnSync(binaryPath('kubectl'), ['kustomize', join(ROOT, dir)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${run.stderr}`);
  warnings.set(dir, run.stderr);
  return parseAllDocuments(run.stdout).map((d) => d.toJS() as Resource);
}

const base = render('deploy/kubernetes/base');
const overlay = render('deploy/kubernetes/overlays/example');
const ofKind = (kind: string, resources = base) => resources.filter((r) => r.kind === kind);
const named = (name: string, resources = base) => resources.find((r) => r.metadata.name === name)!;
const deployments = ofKind('Deployment');
const containerOf = (d: Resource): Container => d.spec.template.spec.containers[0];
const podLabels = (d: Resource): Record<string, string> => d.spec.template.metadata.labels;
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('the Kubernetes base (kubectl kustomize)', () => {
  it('when rendered, then an API Deployment runs no workers and a worker Deployment runs every worker but the API', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['wecom-gateway-api', 'wecom-gateway-worker']);
    const workers = (name: string) =>
      containerOf(named(name))
        .env.find((e) => e.name === 'WORKERS')
        ?.value?.split(',');
    expect(workers('wecom-gateway-api')).toEqual(['api']);
    expect(workers('wecom-gateway-worker')?.sort()).toEqual(ALL_WORKERS.filter((w) => w !== 'api').sort());
    // Every WORKERS value the manifests use is one the gateway accepts.
    for (const d of deployments)
      expect(envSchema.shape.WORKERS.safeParse(containerOf(d).env.find((e) => e.name === 'WORKERS')!.value).success).toBe(true);
  });

  it('when rendered, then each container has probes on /healthz and /readyz, requests and limits, and runs non-root on a read-only root', () => {
    for (const d of deployments) {
      const c = containerOf(d);
      const pod = d.spec.template.spec;
      expect(c.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(c.securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      // Read-only root: what is written goes to an emptyDir.
      expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
      // The server stops within 30 s of SIGTERM; the pod must be given longer.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
      // The base names the image only; an overlay says where it comes from.
      expect(c.image).toBe('wecom-gateway');
    }
  });

  it('when rendered, then every secret variable comes from the Secret and none has a value written in a manifest', () => {
    for (const d of deployments) {
      const env = containerOf(d).env;
      for (const name of SECRET_VARIABLES) {
        const entry = env.find((e) => e.name === name);
        expect({ name, ref: entry?.valueFrom?.secretKeyRef }).toEqual({
          name,
          ref: expect.objectContaining({ name: 'wecom-gateway', key: name }),
        });
        expect(entry?.value).toBeUndefined();
      }
      expect(containerOf(d).envFrom).toEqual([{ configMapRef: { name: ofKind('ConfigMap')[0].metadata.name } }]);
    }
    const config = ofKind('ConfigMap');
    expect(config.map((c) => c.metadata.name)).toEqual([expect.stringMatching(/^wecom-gateway-[a-z0-9]{10}$/)]);
    expect(Object.keys(config[0].data ?? {}).filter((k) => (SECRET_VARIABLES as readonly string[]).includes(k))).toEqual([]);
    // Every variable the manifests set is one the gateway reads.
    const set = [...deployments.flatMap((d) => containerOf(d).env.map((e) => e.name)), ...Object.keys(config[0].data ?? {})];
    expect(set.filter((name) => !(name in envSchema.shape))).toEqual([]);
  });

  it('when rendered, then the Services, the disruption budgets and the autoscaler point at the right pods', () => {
    const service = ofKind('Service').find((s) => s.metadata.name === 'wecom-gateway')!;
    const api = named('wecom-gateway-api');
    const worker = named('wecom-gateway-worker');
    expect(selects(service.spec.selector, podLabels(api))).toBe(true);
    expect(selects(service.spec.selector, podLabels(worker))).toBe(false);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    // For Prometheus only: every pod, whatever its role, and no virtual IP to send traffic through.
    const metrics = named('wecom-gateway-metrics');
    expect(metrics.spec.clusterIP).toBe('None');
    expect(deployments.filter((d) => selects(metrics.spec.selector, podLabels(d))).map((d) => d.metadata.name)).toEqual([
      'wecom-gateway-api',
      'wecom-gateway-worker',
    ]);
    expect(
      ofKind('Service')
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(['wecom-gateway', 'wecom-gateway-metrics']);
    const budgets = ofKind('PodDisruptionBudget');
    expect(
      budgets.map((b) => [
        b.spec.minAvailable,
        deployments.filter((d) => selects(b.spec.selector.matchLabels, podLabels(d))).map((d) => d.metadata.name),
      ]),
    ).toEqual([
      [1, ['wecom-gateway-api']],
      [1, ['wecom-gateway-worker']],
    ]);
    const [hpa] = ofKind('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'wecom-gateway-api' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(budgets[0].spec.minAvailable + 1);
    for (const d of deployments) expect(selects(d.spec.selector.matchLabels, podLabels(d))).toBe(true);
  });

  it('when the example overlay is rendered, then it adds a ServiceMonitor on every pod’s /metrics (API and workers) with the metrics token, in its namespace', () => {
    expect(ofKind('ServiceMonitor')).toEqual([]);
    const [monitor] = ofKind('ServiceMonitor', overlay);
    expect(monitor.spec.endpoints).toEqual([
      {
        port: 'http',
        path: '/metrics',
        interval: '30s',
        authorization: { type: 'Bearer', credentials: { name: 'wecom-gateway', key: 'METRICS_TOKEN' } },
      },
    ]);
    // The monitor picks the metrics Service alone: the API pods are not scraped twice (through the API Service too).
    expect(
      ofKind('Service', overlay)
        .filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels ?? {}))
        .map((s) => s.metadata.name),
    ).toEqual(['wecom-gateway-metrics']);
    expect(new Set(overlay.map((r) => (r.metadata as { namespace?: string }).namespace))).toEqual(new Set(['wecom-gateway']));
    expect(containerOf(named('wecom-gateway-api', overlay)).image).toBe('registry.example.com/platform/wecom-gateway:1.0.0');
  });
});

describe('the example overlay’s configuration (a file under your version control, not kubectl edit)', () => {
  const envPath = join(ROOT, 'deploy/kubernetes/overlays/example/gateway.env');
  const envFile = existsSync(envPath) ? readFileSync(envPath, 'utf8') : '';
  const settings = new Map([...envFile.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1], m[2]]));

  it('when a user copies the overlay, then gateway.env asks for WECOM_CORP_ID and WECOM_AGENT_ID, and holds no secret', () => {
    expect(settings.get('WECOM_CORP_ID')).toBe('');
    expect(settings.get('WECOM_AGENT_ID')).toBe('');
    expect([...settings.keys()].filter((k) => (SECRET_VARIABLES as readonly string[]).includes(k) || !(k in envSchema.shape))).toEqual([]);
  });

  it('when rendered, then one ConfigMap with a hash suffix holds the base’s defaults and gateway.env’s settings, and both Deployments read it', () => {
    const configs = ofKind('ConfigMap', overlay);
    expect(configs.map((c) => c.metadata.name)).toEqual([expect.stringMatching(/^wecom-gateway-[a-z0-9]{10}$/)]);
    const [config] = configs;
    expect(config.data).toEqual({ ...ofKind('ConfigMap')[0].data, ...Object.fromEntries(settings) });
    for (const d of ofKind('Deployment', overlay))
      expect([d.metadata.name, containerOf(d).envFrom]).toEqual([d.metadata.name, [{ configMapRef: { name: config.metadata.name } }]]);
  });

  it('when deploy/ is rendered or read, then nothing uses the deprecated commonLabels', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
    const using = files(join(ROOT, 'deploy')).filter((f) => /^\s*commonLabels\s*:/m.test(readFileSync(f, 'utf8')));
    expect(using.map((f) => relative(ROOT, f))).toEqual([]);
    expect([...warnings].filter(([, stderr]) => /warning|deprecated/i.test(stderr))).toEqual([]);
  });
});

describe('the example overlay’s Ingress (WeCom reaches /wecom/callback from the Internet, over HTTPS)', () => {
  const ingresses = ofKind('Ingress', overlay);
  const paths: { path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }[] = ingresses.flatMap(
    (i) => i.spec.rules.flatMap((r: { http: { paths: unknown[] } }) => r.http.paths),
  );
  /** Kubernetes' matching: Exact is the path itself; Prefix matches whole path segments. */
  const publishes = (request: string) =>
    paths.some(({ path, pathType }) =>
      pathType === 'Exact' ? request === path : request === path || request.startsWith(path.endsWith('/') ? path : `${path}/`),
    );
  /**
   * Every path the gateway serves (openapi.yaml lists them all; test/integration/openapi.test.ts keeps it so), a parameter as one segment.
   */
  const served = Object.keys((parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as { paths: Record<string, unknown> }).paths).map(
    (p) => p.replace(/\{[^}]+\}/g, 'x'),
  );

  it('when rendered, then of every path the gateway serves only /wecom/callback and /wecom/callback/<app> are published; /dashboard, /v1, /metrics and /docs are not', () => {
    expect(served).toEqual(expect.arrayContaining(['/wecom/callback', '/dashboard/', '/v1/messages', '/metrics', '/docs']));
    expect(served.filter(publishes).sort()).toEqual(['/wecom/callback', '/wecom/callback/x']);
    for (const hidden of ['/', '/dashboard', '/dashboard/', '/v1/messages', '/wecom/callbacks', '/metrics'])
      expect([hidden, publishes(hidden)]).toEqual([hidden, false]);
  });

  it('when rendered, then every published host has TLS and the callback goes to the API pods’ Service', () => {
    expect(paths.length).toBeGreaterThan(0);
    for (const ingress of ingresses) {
      const tlsHosts = (ingress.spec.tls ?? []).flatMap((t: { hosts: string[]; secretName?: string }) => (t.secretName ? t.hosts : []));
      for (const rule of ingress.spec.rules) expect([rule.host, tlsHosts.includes(rule.host)]).toEqual([rule.host, true]);
    }
    const api = named('wecom-gateway-api', overlay);
    for (const { backend } of paths) {
      const service = ofKind('Service', overlay).find((s) => s.metadata.name === backend.service.name)!;
      expect([
        service.kind,
        selects(service.spec.selector, podLabels(api)),
        service.spec.ports.map((p: { name: string }) => p.name),
      ]).toEqual(['Service', true, expect.arrayContaining([backend.service.port.name])]);
      expect(service.spec.clusterIP).not.toBe('None');
    }
  });
});
