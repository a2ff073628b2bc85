import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/gateway';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/redis/embedded-redis';
import { WecomSimulator } from '../../src/simulator/simulator';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { alert, eventually, finalStatus, SIM_APP, startTestRedis, testConfig, UNLIMITED_SIM } from '../support/harness';
import { encryptedPush, memberTextXml } from '../support/wecom-push';
import { binaryPath } from '../support/prerequisites';

const MASTER_NAME = 'wgw';
const CALLBACK_ENV = { WECOM_CALLBACK_TOKEN: 'gatewayToken123', WECOM_CALLBACK_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' };
const wecom = new CallbackCrypto({
  token: CALLBACK_ENV.WECOM_CALLBACK_TOKEN,
  encodingAesKey: CALLBACK_ENV.WECOM_CALLBACK_AES_KEY,
  receiveId: SIM_APP.corpId,
});
/**
 * What the README recommends for each Redis node behind Sentinel: a master whose replica is
 * gone refuses writes (the old master during a switch takes none it would then drop). And,
 * for the test, no 5 s pause before a full sync, so that the old master rejoins sooner.
 */
const RECOMMENDED = ['--min-replicas-to-write', '1', '--min-replicas-max-lag', '10', '--repl-diskless-sync-delay', '0'];

/** How many WAIT commands a Redis server has run. */
async function waitCalls(redis: Redis): Promise<number> {
  return Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
}

interface Sentinel {
  port: number;
  client: Redis;
  stop(): Promise<void>;
}

/** One redis-sentinel watching the master, as Debian's package runs it, with a failure detection fit for a test. */
async function startSentinel(masterPort: number): Promise<Sentinel> {
  // Sentinel rewrites its own file (the other Sentinels it meets, the master after a failover): it lives in a folder of ours.
  const dir = mkdtempSync(join(tmpdir(), 'wgw-sentinel-'));
  const configFile = join(dir, 'sentinel.conf');
  writeFileSync(
    configFile,
    [
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 2000`,
      `sentinel failover-timeout ${MASTER_NAME} 10000`,
      '',
    ].join('\n'),
  );
  const server = await startEmbeddedRedis({ binary: binaryPath('redis-sentinel'), configFile, dir });
  const client = new Redis(server.port, '127.0.0.1');
  return {
    port: server.port,
    client,
    async stop() {
      client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the master has a replica that finished its first sync. */
const replicaInSync = (master: Redis) => eventually(async () => (await master.info('replication')).includes('state=online'), 15_000, 50);

/** The address the Sentinel gives for the master, as `port`. */
async function masterPortOf(sentinel: Sentinel): Promise<number> {
  const [, port] = (await sentinel.client.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string];
  return Number(port);
}

/** A master, its replica and three Sentinels that know both and each other: what an operator runs. */
async function startSentinelTopology(): Promise<{ master: EmbeddedRedis; replica: EmbeddedRedis; sentinels: Sentinel[] }> {
  const master = await startTestRedis({ extraArgs: RECOMMENDED });
  const replica = await startTestRedis({ extraArgs: [...RECOMMENDED, '--replicaof', '127.0.0.1', String(master.port)] });
  const masterClient = new Redis(master.port, '127.0.0.1');
  await replicaInSync(masterClient);
  masterClient.disconnect();
  // Started once the replica is in sync, each Sentinel learns of it from the master's first INFO.
  const sentinels = await Promise.all([0, 1, 2].map(() => startSentinel(master.port)));
  await eventually(
    async () => {
      for (const sentinel of sentinels) {
        const replicas = (await sentinel.client.call('SENTINEL', 'replicas', MASTER_NAME)) as unknown[];
        const others = (await sentinel.client.call('SENTINEL', 'sentinels', MASTER_NAME)) as unknown[];
        if (replicas.length < 1 || others.length < 2) return false;
      }
      return true;
    },
    20_000,
    200,
  );
  return { master, replica, sentinels };
}

describe('a gateway behind Redis Sentinel when the master fails over', () => {
  let topology: Awaited<ReturnType<typeof startSentinelTopology>>;
  let sim: WecomSimulator;
  let gateway: Gateway;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    topology = await startSentinelTopology();
    sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    const env = {
      REDIS_URL: '',
      REDIS_SENTINELS: topology.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      REDIS_SENTINEL_MASTER: MASTER_NAME,
      REDIS_WAIT_REPLICAS: '1',
      // A send whose completion the failover lost is taken up again once its lock lapses.
      JOB_LOCK_MS: '2000',
    };
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    gateway = await createGateway(testConfig(sim.url, env), { logger });
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await sim?.stop();
    await Promise.all((topology?.sentinels ?? []).map((s) => s.stop()));
    await topology?.replica.stop();
    await topology?.master.stop();
  });

  /** A caller as the README asks: on 503 it retries with the same Idempotency-Key, until it has a 202. */
  let answers503 = 0;
  const refusals = new Map<string, { first: number; last: number }>();
  async function accept(title: string): Promise<string> {
    return eventually(
      async () => {
        const res = await request(gateway.app)
          .post('/v1/messages')
          .set('Idempotency-Key', title)
          .send(alert({ data: { title, content: 'c', level: 'info' } }));
        if (res.status === 503) {
          answers503++;
          const seen = refusals.get(res.body.error.message) ?? { first: Date.now(), last: 0 };
          refusals.set(res.body.error.message, { ...seen, last: Date.now() });
        } else expect(res.status).toBe(202);
        return res.status === 202 ? (res.body.id as string) : undefined;
      },
      60_000,
      100,
    );
  }
  const acceptAll = async (titles: string[], atOnce: number) => {
    const ids: string[] = [];
    for (let i = 0; i < titles.length; i += atOnce) ids.push(...(await Promise.all(titles.slice(i, i + atOnce).map(accept))));
    return ids;
  };
  const titles = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix} ${i}`);
  const delivered = () => sim.sent.map((m) => (m.body.text as { content: string }).content.split('\n')[0]);

  it('when SENTINEL FAILOVER promotes the replica while messages are accepted, then every accepted message is delivered once and the gateway carries on by itself', async () => {
    const before = await acceptAll(titles('before', 100), 20);
    await eventually(() => delivered().length >= 100 || undefined, 30_000, 50);

    // Callers keep posting, ten at a time, until every Sentinel names the new master.
    let switched = false;
    const during = (async () => {
      const ids: string[] = [];
      for (let batch = 0; !switched; batch++) ids.push(...(await acceptAll(titles(`during ${batch}`, 10), 10)));
      return ids;
    })();
    await eventually(() => delivered().length >= 130 || undefined, 30_000, 10);
    const switchStarted = Date.now();
    // What a load balancer's probe would see meanwhile.
    const notReady: number[] = [];
    let callersDone = false;
    const probing = (async () => {
      while (!callersDone) {
        if ((await request(gateway.app).get('/readyz')).status !== 200) notReady.push(Date.now() - switchStarted);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    expect(await topology.sentinels[0].client.call('SENTINEL', 'failover', MASTER_NAME)).toBe('OK');
    await eventually(
      async () => (await Promise.all(topology.sentinels.map(masterPortOf))).every((port) => port === topology.replica.port),
      30_000,
      100,
    );
    switched = true;
    const switchedAt = Date.now();
    const duringIds = await during;
    callersDone = true;
    await probing;
    const after = await acceptAll(titles('after', 100), 20);

    const ids = [...before, ...duringIds, ...after];
    expect(new Set(ids).size).toBe(ids.length);
    await eventually(() => new Set(delivered()).size >= ids.length || undefined, 60_000, 100);
    for (const id of ids) expect((await finalStatus(request(gateway.app), id, 30_000)).status).toBe('sent');
    // Sends the failover made the worker repeat arrive byte for byte and
    // WeCom's duplicate check drops them; give any such repeat time to show.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(delivered()).toHaveLength(ids.length);
    expect(new Set(delivered()).size).toBe(ids.length);
    // The callers met the switch: the promoted replica takes no write (min-replicas-to-write) until the old master rejoins it.
    expect(answers503).toBeGreaterThan(0);

    // It reconnected on its own: ready, and talking to the promoted replica.
    expect((await request(gateway.app).get('/readyz')).status).toBe(200);
    expect(logs.some((l) => l.msg === 'redis connection lost; reconnecting')).toBe(true);
    expect(logs.some((l) => l.msg === 'redis connection restored' && l.redis === `127.0.0.1:${topology.replica.port}`)).toBe(true);
    process.stdout.write(
      `sentinel: ${ids.length} accepted (${duringIds.length} during the ` +
        `failover), ${delivered().length} delivered once each; ${answers503} answers of 503 retried; ` +
        `${sim.duplicatesAbsorbed} repeated sends dropped by WeCom's duplicate check; Sentinels ` +
        `agreed ${switchedAt - switchStarted} ms after SENTINEL FAILOVER; 503s (ms after it): ` +
        [...refusals].map(([message, { first, last }]) => `"${message}" ${first - switchStarted}..${last - switchStarted}`).join(', ') +
        `; /readyz not 200 ${notReady.length} times${notReady.length > 0 ? ` (${notReady[0]}..${notReady[notReady.length - 1]} ms)` : ''}` +
        '\n',
    );
  }, 120_000);
});

describe('REDIS_WAIT_REPLICAS on a master whose replica is away', () => {
  let master: EmbeddedRedis;
  let replica: EmbeddedRedis | undefined;
  let probe: Redis;
  let sim: WecomSimulator;
  let gateway: Gateway;

  beforeAll(async () => {
    master = await startTestRedis({ extraArgs: ['--repl-diskless-sync-delay', '0'] });
    probe = new Redis(master.url);
    sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    gateway = await createGateway(testConfig(sim.url, { REDIS_URL: master.url, REDIS_WAIT_REPLICAS: '1', ...CALLBACK_ENV }), {
      logger: pino({ level: 'silent' }),
    });
  });
  // Not `ack`: that text acks an alert group by itself, with a passive reply (alerts/text-ack.ts).
  const push = encryptedPush(wecom, SIM_APP.corpId, memberTextXml('hello', '7300000000000000042'));
  const postPush = () => request(gateway.app).post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body);
  const callbackOutcomes = async () =>
    (await request(gateway.app).get('/metrics')).text
      .split('\n')
      .filter((l) => l.startsWith('wecom_gateway_callbacks_total'))
      .join('\n');

  afterAll(async () => {
    await gateway?.close();
    await sim?.stop();
    probe?.disconnect();
    await replica?.stop();
    await master?.stop();
  });

  it('when 20 messages are posted at once, then each is refused with 503 and the reason, and Redis runs one WAIT per connection, not one per message', async () => {
    const before = await waitCalls(probe);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(gateway.app)
          .post('/v1/messages')
          .send(alert({ idempotencyKey: `away ${i}` })),
      ),
    );
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe('Redis replicas did not confirm the message in time; retry with the same Idempotency-Key');
      expect(res.headers['retry-after']).toBe('1');
    }
    // The record connection and the queue connection: one WAIT each, the other callers joined them.
    expect(await waitCalls(probe)).toBeLessThanOrEqual(before + 2);
  });

  it('when WeCom pushes a callback, then it is not acknowledged (503, so WeCom retries) and its dedupe mark is released for the retry', async () => {
    expect((await postPush()).status).toBe(503);
    expect(await callbackOutcomes()).not.toMatch(/outcome="accepted"/);
  });

  it('when a replica attaches, then a message is accepted only once the replica holds it, and is delivered', async () => {
    replica = await startTestRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    await replicaInSync(probe);
    const before = await waitCalls(probe);
    const res = await eventually(
      async () => {
        const answer = await request(gateway.app)
          .post('/v1/messages')
          .send(alert({ idempotencyKey: 'replica back' }));
        return answer.status === 202 ? answer : undefined;
      },
      10_000,
      200,
    );
    expect(await waitCalls(probe)).toBeGreaterThan(before);
    expect((await finalStatus(request(gateway.app), res.body.id)).status).toBe('sent');
    // The replica has the message's record: what the 202 promised.
    const onReplica = new Redis(replica.url);
    expect(await onReplica.dbsize()).toBeGreaterThan(0);
    onReplica.disconnect();

    // WeCom's retry of the refused push is taken now, and a further repeat is known as one.
    expect((await postPush()).status).toBe(200);
    expect((await postPush()).status).toBe(200);
    const outcomes = await callbackOutcomes();
    expect(outcomes).toMatch(/outcome="accepted"} 1$/m);
    expect(outcomes).toMatch(/outcome="duplicate"} 1$/m);
  });
});
