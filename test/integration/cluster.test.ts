import { spawnSync } from 'node:child_process';
import pino from 'pino';
import request from 'supertest';
import { Cluster } from 'ioredis';
import { createGateway, type Gateway } from '../../src/gateway';
import type { EmbeddedRedis } from '../../src/redis/embedded-redis';
import { WecomSimulator } from '../../src/simulator/simulator';
import { alert, eventually, startTestRedis, testConfig, uniquePrefix, UNLIMITED_SIM } from '../support/harness';
import { binaryPath } from '../support/prerequisites';

/** A real 3-master Redis Cluster on loopback, as an operator would run one (no replicas, for the test). */
async function startCluster(): Promise<EmbeddedRedis[]> {
  const nodes = await Promise.all(
    [0, 1, 2].map(() => startTestRedis({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] })),
  );
  const created = spawnSync(
    binaryPath('redis-cli'),
    ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8' },
  );
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  const probe = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
  await eventually(async () => (await probe.cluster('INFO')).includes('cluster_state:ok') || undefined, 20_000, 100);
  await probe.quit();
  return nodes;
}

describe('two gateway instances on a Redis Cluster', () => {
  let nodes: EmbeddedRedis[];
  let sim: WecomSimulator;
  let gateways: Gateway[];

  beforeAll(async () => {
    nodes = await startCluster();
    sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    const prefix = uniquePrefix();
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(','), REDIS_PREFIX: prefix };
    gateways = await Promise.all([0, 1].map(() => createGateway(testConfig(sim.url, env), { logger: pino({ level: 'silent' }) })));
  }, 60_000);
  afterAll(async () => {
    await Promise.all((gateways ?? []).map((g) => g.close()));
    await sim?.stop();
    await Promise.all((nodes ?? []).map((n) => n.stop()));
  });

  it('when 1000 messages are posted through both, then each is delivered exactly once and one token is fetched', async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const posted = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          request(gateways[(batch + i) % 2].app)
            .post('/v1/messages')
            .send(alert({ data: { title: `cluster ${batch * 100 + i}`, content: 'c', level: 'info' } })),
        ),
      );
      for (const res of posted) {
        expect(res.status).toBe(202);
        ids.push(res.body.id);
      }
    }
    await eventually(() => sim.sent.length >= 1000 || undefined, 60_000, 100);
    await new Promise((r) => setTimeout(r, 300));
    const titles = sim.sent.map((m) => (m.body.text as { content: string }).content.split('\n')[0]);
    expect(sim.sent).toHaveLength(1000);
    expect(new Set(titles).size).toBe(1000);
    expect(sim.gettokenCount()).toBe(1);
    const statuses = await Promise.all(ids.slice(0, 50).map((id, i) => request(gateways[i % 2].app).get(`/v1/messages/${id}`)));
    expect(statuses.every((s) => s.body.status === 'sent')).toBe(true);
    process.stdout.write(
      `cluster: 1000 messages over 2 instances, ${sim.sent.length} ` +
        `delivered, ${new Set(titles).size} distinct, ${sim.gettokenCount()} gettoken\n`,
    );
  }, 90_000);
});
