import { eventually, listen, startHarness, type Harness } from '../support/harness';
import { webhookConfig } from '../support/alertmanager';
import { PEER_TIMEOUT_SECONDS, startAlertmanagers, type AlertmanagerSet } from '../support/alertmanager-cluster';

const REPLICAS = 3;
const INSTANCES = ['redis-1', 'redis-2', 'redis-3'];
/** Longer than the last replica's wait ((n - 1) × peer timeout) and a group interval: whatever a replica would still send has arrived. */
const QUIET_MS = ((REPLICAS - 1) * PEER_TIMEOUT_SECONDS + 3) * 1_000;

type Sent = Harness['sim']['sent'][number];
const text = (m: Sent) => JSON.stringify(m.body);
const isResolved = (m: Sent) => /RESOLVED|已恢复/.test(text(m));
const isAbout = (m: Sent, instance: string) => new RegExp(`\\b${instance}\\b`).test(text(m));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function replicaConfig(gateway: string): string {
  return webhookConfig(`${gateway}/v1/integrations/alertmanager?users=zhangsan`, { groupInterval: '2s' });
}

/** What Prometheus posts to every Alertmanager it knows: the same alerts, with their start (and end) set. */
function redisDown(startsAt: string, endsAt: string) {
  return INSTANCES.map((instance) => ({
    labels: { alertname: 'RedisDown', severity: 'critical', job: 'redis', instance },
    annotations: { summary: `Redis ${instance} is down` },
    startsAt,
    endsAt,
    generatorURL: 'http://prometheus.example:9090/graph?g0.expr=redis_up%3D%3D0',
  }));
}

async function postToAll(ports: number[], alerts: unknown[]): Promise<void> {
  const answers = await Promise.all(
    ports.map((port) =>
      fetch(`http://127.0.0.1:${port}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      }),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual(ports.map(() => 200));
}

/** The webhook notifications the replicas sent, by their own count. */
async function webhookNotifications(ports: number[]): Promise<number[]> {
  return Promise.all(
    ports.map(async (port) => {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith('alertmanager_notifications_total{') && l.includes('integration="webhook"'));
      return line ? Number(line.trim().split(/\s+/).pop()) : 0;
    }),
  );
}

/** Per instance, how many messages of the kind reached zhangsan. */
function perInstance(sent: Sent[], resolved: boolean): Record<string, number> {
  const mine = sent.filter((m) => m.touser.includes('zhangsan') && isResolved(m) === resolved);
  return Object.fromEntries(INSTANCES.map((instance) => [instance, mine.filter((m) => isAbout(m, instance)).length]));
}

const once = Object.fromEntries(INSTANCES.map((instance) => [instance, 1]));

function describeMode(mode: 'clustered' | 'partitioned', name: string, checkReplicaCount: (total: number) => void) {
  describe(`Alertmanager in high availability, ${mode}`, () => {
    let h: Harness;
    let served: Awaited<ReturnType<typeof listen>>;
    let ams: AlertmanagerSet | undefined;

    beforeAll(async () => {
      h = await startHarness();
      served = await listen(h.gateway.app);
    });
    afterAll(async () => {
      await ams?.stop();
      await served?.close();
      await h?.close();
    }, 20_000);

    it(
      name,
      async () => {
        ams = await startAlertmanagers(REPLICAS, replicaConfig(served.base), { clustered: mode === 'clustered' });
        const { ports } = ams;
        const startsAt = new Date(Date.now() - 60_000).toISOString();

        await postToAll(ports, redisDown(startsAt, new Date(Date.now() + 10 * 60_000).toISOString()));
        await eventually(() => Object.values(perInstance(h.sim.sent, false)).every((count) => count > 0), 15_000, 100);
        await sleep(QUIET_MS);
        expect(perInstance(h.sim.sent, false)).toEqual(once);
        expect(h.sim.sent).toHaveLength(INSTANCES.length);

        await postToAll(ports, redisDown(startsAt, new Date().toISOString()));
        await eventually(() => Object.values(perInstance(h.sim.sent, true)).every((count) => count > 0), 15_000, 100);
        await sleep(QUIET_MS);
        expect(perInstance(h.sim.sent, true)).toEqual(once);
        expect(perInstance(h.sim.sent, false)).toEqual(once);
        expect(h.sim.sent).toHaveLength(2 * INSTANCES.length);

        const byReplica = await webhookNotifications(ports);
        const total = byReplica.reduce((a, b) => a + b, 0);
        process.stdout.write(
          `alertmanager HA (${mode}): ${REPLICAS} replicas sent ${total} webhook notifications (${byReplica.join(' + ')}) ` +
            `for ${INSTANCES.length} groups; the person got ${INSTANCES.length} firing + ${INSTANCES.length} resolved\n`,
        );
        checkReplicaCount(total);
      },
      40_000,
    );
  });
}

describeMode(
  'clustered',
  'When three clustered replicas get the same alerts, then each group reaches the person once, firing and resolved',
  (total) => {
    // At least a firing and a resolution per group; gossip keeps the others from sending them again.
    expect(total).toBeGreaterThanOrEqual(2 * INSTANCES.length);
    expect(total).toBeLessThan(2 * INSTANCES.length * REPLICAS);
  },
);

describeMode(
  'partitioned',
  'When three partitioned replicas (no gossip) all send, then each group still reaches the person once',
  (total) => {
    // Each replica sends every group's firing and resolution on its own.
    expect(total).toBe(2 * INSTANCES.length * REPLICAS);
  },
);
