import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
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

/** What `kubectl kustomize <dir>` renders, as objects. */
function render(dir: string): Resource[] {
  const out = execFileSync(binaryPath('kubectl'), ['kustomize', join(ROOT, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(out).map((d) => d.toJS() as Resource);
}

const base = render('deploy/kubernetes/base');
const ofKind = (kind: string, resources = base) => resources.filter((r) => r.kind === kind);
const named = (name: string, resources = base) => resources.find((r) => r.metadata.name === name)!;
const deployments = ofKind('Deployment');
const containerOf = (d: Resource): Container => d.spec.template.spec.containers[0];
const podLabels = (d: Resource): Record<string, string> => d.spec.template.metadata.labels;
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('the Kubernetes base (kubectl kustomize)', () => {
  it('when rendered, then an API Deployment runs no workers and a worker Deployment runs every worker but the API', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['wecom-gateway-api', 'wecom-gateway-worker']);
    const workers = (name: string) => containerOf(named(name)).env.find((e) => e.name === 'WORKERS')?.value?.split(',');
    expect(workers('wecom-gateway-api')).toEqual(['api']);
    expect(workers('wecom-gateway-worker')?.sort()).toEqual(ALL_WORKERS.filter((w) => w !== 'api').sort());
    // Every WORKERS value the manifests use is one the gateway accepts.
    for (const d of deployments) expect(envSchema.shape.WORKERS.safeParse(containerOf(d).env.find((e) => e.name === 'WORKERS')!.value).success).toBe(true);
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
        expect({ name, ref: entry?.valueFrom?.secretKeyRef }).toEqual({ name, ref: expect.objectContaining({ name: 'wecom-gateway', key: name }) });
        expect(entry?.value).toBeUndefined();
      }
      expect(containerOf(d).envFrom).toEqual([{ configMapRef: { name: 'wecom-gateway' } }]);
    }
    const config = ofKind('ConfigMap');
    expect(config.map((c) => c.metadata.name)).toEqual(['wecom-gateway']);
    expect(Object.keys(config[0].data ?? {}).filter((k) => (SECRET_VARIABLES as readonly string[]).includes(k))).toEqual([]);
    // Every variable the manifests set is one the gateway reads.
    const set = [...deployments.flatMap((d) => containerOf(d).env.map((e) => e.name)), ...Object.keys(config[0].data ?? {})];
    expect(set.filter((name) => !(name in envSchema.shape))).toEqual([]);
  });

  it('when rendered, then the Service, the disruption budgets and the autoscaler point at the right pods', () => {
    const [service] = ofKind('Service');
    const api = named('wecom-gateway-api');
    const worker = named('wecom-gateway-worker');
    expect(selects(service.spec.selector, podLabels(api))).toBe(true);
    expect(selects(service.spec.selector, podLabels(worker))).toBe(false);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    const budgets = ofKind('PodDisruptionBudget');
    expect(budgets.map((b) => [b.spec.minAvailable, deployments.filter((d) => selects(b.spec.selector.matchLabels, podLabels(d))).map((d) => d.metadata.name)])).toEqual([
      [1, ['wecom-gateway-api']],
      [1, ['wecom-gateway-worker']],
    ]);
    const [hpa] = ofKind('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'wecom-gateway-api' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(budgets[0].spec.minAvailable + 1);
    for (const d of deployments) expect(selects(d.spec.selector.matchLabels, podLabels(d))).toBe(true);
  });

  it('when the example overlay is rendered, then it adds a ServiceMonitor on the API pods’ /metrics with the metrics token, in its namespace', () => {
    expect(ofKind('ServiceMonitor')).toEqual([]);
    const overlay = render('deploy/kubernetes/overlays/example');
    const [monitor] = ofKind('ServiceMonitor', overlay);
    expect(monitor.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s', authorization: { type: 'Bearer', credentials: { name: 'wecom-gateway', key: 'METRICS_TOKEN' } } }]);
    expect(selects(monitor.spec.selector.matchLabels, podLabels(named('wecom-gateway-api', overlay)))).toBe(true);
    expect(new Set(overlay.map((r) => (r.metadata as { namespace?: string }).namespace))).toEqual(new Set(['wecom-gateway']));
    expect(containerOf(named('wecom-gateway-api', overlay)).image).toBe('registry.example.com/platform/wecom-gateway:1.0.0');
  });
});
