import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AuthFailureThrottle } from '../../src/http/rate-limit';
import { amPayload } from '../support/alertmanager';
import { alert, startHarness, type Harness } from '../support/harness';
import { binaryPath } from '../support/prerequisites';

const GOOD = 'good-key-0123456789abcdef';
const ALERTMANAGER_KEY = 'alertmanager-key-0123456789';
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const wrong = (i: number) => `wrong-key-${i}-0123456789`;

describe('a wrong key never locks out a right one (one address shared by many: NAT, an ingress)', () => {
  let h: Harness;
  beforeAll(async () => {
    // No TRUST_PROXY: every test request comes from 127.0.0.1, one address for all, as behind NAT.
    h = await startHarness({ env: { GATEWAY_API_KEYS: `${GOOD},${ALERTMANAGER_KEY}:send` } });
  });
  afterAll(() => h.close());
  afterEach(() => jest.restoreAllMocks());

  it('when an address sent eleven wrong keys, then its right keys are still served (Alertmanager included) and its wrong ones get 429 with Retry-After', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 11; i++) answers.push((await h.api.get('/v1/events').set(bearer(wrong(i)))).status);
    expect(answers).toEqual([...Array(10).fill(401), 429]);

    const read = await h.api.get('/v1/events').set(bearer(GOOD));
    const send = await h.api.post('/v1/messages').set(bearer(GOOD)).send(alert());
    const alertmanager = await h.api
      .post('/v1/integrations/alertmanager?users=zhangsan')
      .set(bearer(ALERTMANAGER_KEY))
      .send(amPayload({ groupKey: 'shared-keys-1' }));
    console.log(
      `after 11 wrong keys from one address: right key GET ${read.status}, ` +
        `POST /v1/messages ${send.status}, Alertmanager ${alertmanager.status}`,
    );
    expect([read.status, send.status, alertmanager.status]).toEqual([200, 202, 202]);

    const still = await h.api.get('/v1/events').set(bearer(wrong(99)));
    expect(still.status).toBe(429);
    expect(still.body.error.code).toBe('too_many_failures');
    expect(Number(still.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(still.headers['retry-after'])).toBeLessThanOrEqual(60);
  });

  it('when a right key comes, then the failed-key guard is not asked (no Redis round trip on the way in)', async () => {
    const asked = jest.spyOn(AuthFailureThrottle.prototype, 'failed');
    expect((await h.api.get('/v1/events').set(bearer(GOOD))).status).toBe(200);
    expect(asked).not.toHaveBeenCalled();
  });
});

/** TRUST_PROXY as the example Kubernetes overlay ships it (kubectl kustomize, as kubernetes.test.ts renders it). */
function shippedKubernetesTrustProxy(): string | undefined {
  const run = spawnSync(binaryPath('kubectl'), ['kustomize', join(__dirname, '..', '..', 'deploy/kubernetes/overlays/example')], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`kubectl kustomize: ${run.stderr}`);
  const config = parseAllDocuments(run.stdout)
    .map((d) => d.toJS() as { kind: string; data?: Record<string, string> })
    .find((r) => r.kind === 'ConfigMap');
  return config?.data?.TRUST_PROXY;
}

describe('the shipped Kubernetes TRUST_PROXY', () => {
  const trustProxy = shippedKubernetesTrustProxy();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_API_KEYS: GOOD, ...(trustProxy ? { TRUST_PROXY: trustProxy } : {}) } });
  });
  afterAll(() => h.close());

  it('names a range, not every private address', () => {
    expect(trustProxy).toBeDefined();
    expect(trustProxy).not.toMatch(/uniquelocal|loopback|linklocal|^true$|^\d+$/);
  });

  it('when a peer outside the ingress range (any other pod) rotates X-Forwarded-For, then its wrong keys are still counted as its own', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 11; i++)
      answers.push(
        (
          await h.api
            .get('/v1/events')
            .set('X-Forwarded-For', `10.1.2.${i}`)
            .set(bearer(wrong(i)))
        ).status,
      );
    console.log(`shipped TRUST_PROXY ${trustProxy}: 11 wrong keys under 11 X-Forwarded-For addresses -> ${answers.join(',')}`);
    expect(answers).toEqual([...Array(10).fill(401), 429]);
  });
});
