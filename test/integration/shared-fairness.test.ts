import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PERMISSIONS, type Caller } from '../../src/http/auth';
import { MessageService } from '../../src/messages/message-service';
import { MessageStore } from '../../src/messages/message-store';
import { createSendQueue, enqueueParts, type SendJobData } from '../../src/messages/send-queue';
import { loadTemplates } from '../../src/messages/templates';
import { createMetrics } from '../../src/ops/metrics';
import { SendShare } from '../../src/budgets/send-share';
import { redisKeys } from '../../src/redis/keys';
import { problemsOf } from '../support/config-problems';
import { alert, eventually, finalStatus, startHarness, TEMPLATES_DIR, testConfig, uniquePrefix, type Harness } from '../support/harness';

const FLOOD = 'flood-key-0123456789abcdef';
const TEAM = 'team-key-0123456789abcdef';
const PLAIN = 'plain-key-0123456789abcdef';
const PAGER = 'pager-key-0123456789abcdef';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** A config file in a directory of its own; removed with it. */
function configDir(lines: string[]): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wgw-fairness-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, lines.join('\n'));
  return { dir, file };
}

/** 10,000 distinct department ids (100 message/send calls), a range of their own per request. */
const tenThousandParties = (request: number) => Array.from({ length: 10_000 }, (_, i) => String(1_000_000 + request * 10_000 + i));

describe('one key flooding the send queue', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    // The flooder is an unscoped key (GATEWAY_API_KEYS): it may send priority "high" to any number of parties.
    const config = configDir(['apiKeys:', `  - { name: team, key: ${TEAM}, permissions: [send, read], events: [program.alert] }`]);
    dir = config.dir;
    // WeCom answers a call in about 100 ms: 20 send workers make some 200 calls a second, as in production.
    h = await startHarness({ env: { GATEWAY_API_KEYS: `${FLOOD}:send+read`, GATEWAY_CONFIG: config.file }, simulator: { latencyMs: 100 } });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("when a key posts thirty 10,000-party high-priority messages in a few seconds, then another team's alert is still sent within seconds, and every flood message is sent later", async () => {
    const flooded = Date.now();
    const flood: string[] = [];
    for (let request = 0; request < 30; request++) {
      const res = await h.api
        .post('/v1/messages')
        .set(bearer(FLOOD))
        .send(
          alert({
            to: { parties: tenThousandParties(request) },
            priority: 'high',
            data: { title: `flood ${request}`, content: 'c', level: 'info' },
          }),
        );
      expect(res.status).toBe(202);
      flood.push(res.body.id);
    }
    const floodSeconds = (Date.now() - flooded) / 1000;

    const res = await h.api
      .post('/v1/messages')
      .set(bearer(TEAM))
      .send(alert({ to: { users: ['oncall-team'] }, data: { title: 'team disk full', content: 'c', level: 'critical' } }));
    expect(res.status).toBe(202);
    const accepted = Date.now();
    const delivered = await eventually(() => h.sim.sent.find((m) => m.touser.includes('oncall-team')), 120_000, 10);
    const latencyMs = delivered.at - accepted;
    const queuedAt = (at: number) => 30 * 100 - h.sim.sent.filter((m) => m.toparty.length > 0 && m.at <= at).length;
    console.log(
      `flood of 30 x 100 parts accepted in ${floodSeconds.toFixed(1)} s; team alert sent ${latencyMs} ms after its ` +
        `202 (flood parts still to send: ${queuedAt(accepted)} at its 202, ${queuedAt(delivered.at)} when it was sent)`,
    );
    expect((await finalStatus(h.api, res.body.id, 10_000, TEAM)).status).toBe('sent');
    expect(latencyMs).toBeLessThan(5_000);

    // Nothing of the flood is lost: it is only later.
    for (const id of flood) expect((await finalStatus(h.api, id, 180_000, FLOOD)).status).toBe('sent');
    expect(h.sim.sent.filter((m) => m.toparty.length > 0)).toHaveLength(30 * 100);
  }, 300_000);
});

describe('priority "high" for keys of the config file', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    const config = configDir([
      'apiKeys:',
      `  - { name: plain, key: ${PLAIN}, permissions: [send, read], events: [program.alert] }`,
      `  - { name: pager, key: ${PAGER}, permissions: [send, read], events: [program.alert], highPriority: true }`,
    ]);
    dir = config.dir;
    h = await startHarness({ env: { GATEWAY_CONFIG: config.file } });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (key: string, body: Record<string, unknown>) => h.api.post('/v1/messages').set(bearer(key)).send(body);

  it('when a key without highPriority asks for priority "high", then 403 naming priority, and nothing is queued', async () => {
    const before = h.sim.sent.length;
    const res = await post(PLAIN, alert({ priority: 'high' }));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(res.body.error.fields).toEqual([
      { field: 'priority', message: expect.stringMatching(/^this key may not send priority "high"/) },
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.sim.sent.length).toBe(before);
  });

  it('when a key without highPriority sends an event whose template says high, or asks normal, then it is accepted and sent', async () => {
    for (const body of [alert(), alert({ priority: 'normal' })]) {
      const res = await post(PLAIN, body);
      expect(res.status).toBe(202);
      expect((await finalStatus(h.api, res.body.id, 10_000, PLAIN)).status).toBe('sent');
    }
  });

  it('when a key with highPriority: true asks for priority "high", then it is accepted and sent', async () => {
    const res = await post(PAGER, alert({ priority: 'high' }));
    expect(res.status).toBe(202);
    expect((await finalStatus(h.api, res.body.id, 10_000, PAGER)).status).toBe('sent');
  });
});

describe('the send share (SEND_SHARE, parts per window and key)', () => {
  const url = () => process.env.TEST_REDIS_URL!;
  const keys = redisKeys(uniquePrefix());
  const config = testConfig('http://127.0.0.1:9', { SEND_SHARE: '40/60' });
  const caller = (id: string): Caller => ({ id, permissions: new Set(PERMISSIONS) });
  let redis: Redis;
  let queueRedis: Redis;
  let queue: Queue<SendJobData>;
  const serviceWith = (share: SendShare) =>
    new MessageService({
      config,
      templates: loadTemplates(TEMPLATES_DIR),
      store: new MessageStore(redis, { keys, retentionSeconds: 600 }),
      queue,
      metrics: createMetrics(),
      share,
    });
  beforeAll(async () => {
    redis = new Redis(url());
    queueRedis = new Redis(url(), { maxRetriesPerRequest: null });
    queue = createSendQueue(queueRedis, keys.queuePrefix);
    await queue.waitUntilReady();
  });
  afterAll(async () => {
    await queue.close();
    await Promise.all([redis.quit(), queueRedis.quit()]);
  });

  /** The BullMQ priority of each part of a message (0: none, before every prioritized part). */
  const priorities = async (id: string, parts: number) =>
    Promise.all(Array.from({ length: parts }, async (_, part) => (await queue.getJob(`${id}_${part}`))!.priority));
  const parties = (count: number) => ({ parties: Array.from({ length: count }, (_, i) => String(500 + i)) });
  const runs = (list: number[]) =>
    list.reduce<[number, number][]>(
      (acc, p) => (acc.length > 0 && acc[acc.length - 1][0] === p ? (acc[acc.length - 1][1]++, acc) : [...acc, [p, 1]]),
      [],
    );

  it('when a key goes beyond its share, then its parts beyond it queue after the parts of its class within a share (before the next class), the further beyond the later, while another key and the gateway keep the priority asked', async () => {
    const service = serviceWith(new SendShare(redis, keys.sendShare, config.send.share!));
    // 100 parties a part: 10,000 parties are 100 parts, 40 within the share of 40, 40 one share beyond, 20 two.
    const heavy = await service.accept(service.parse(alert({ to: parties(10_000), priority: 'normal' })), { caller: caller('heavy') });
    expect(runs(await priorities(heavy.id, 100))).toEqual([
      [1000, 40],
      [1001, 40],
      [1002, 20],
    ]);
    const light = await service.accept(service.parse(alert({ to: parties(6_000), priority: 'normal' })), { caller: caller('light') });
    expect(runs(await priorities(light.id, 60))).toEqual([
      [1000, 40],
      [1001, 20],
    ]);
    // The gateway's own messages (digests, escalations) have no share: they keep their template's "high".
    const own = await service.accept(service.parse(alert({ to: parties(10_000) })));
    expect(runs(await priorities(own.id, 100))).toEqual([[0, 100]]);

    // A part deferred by the member budget is queued again from its data: it keeps its place.
    const job = (await queue.getJob(`${heavy.id}_99`))!;
    await enqueueParts(queue, [{ ...job.data, part: 100 }], config.send, 60_000);
    expect((await queue.getJob(`${heavy.id}_100`))!.priority).toBe(1002);
  });

  it('when Redis does not answer for the share, then the message is accepted with the priority asked', async () => {
    const away = new Redis('redis://127.0.0.1:9', { lazyConnect: true, maxRetriesPerRequest: 0 });
    const service = serviceWith(new SendShare(away, keys.sendShare, { count: 1, windowMs: 60_000 }));
    const res = await service.accept(service.parse(alert({ to: parties(1_000), priority: 'bulk' })), { caller: caller('unlucky') });
    expect(res.status).toBe('queued');
    expect(runs(await priorities(res.id, 10))).toEqual([[2000, 10]]);
    away.disconnect();
  });

  it('when SEND_SHARE is not one count per whole seconds, then start-up names it; off turns the share off', () => {
    for (const value of ['100/0.5', '100/10,1000/60', 'lots'])
      expect(problemsOf({ SEND_SHARE: value })).toEqual([expect.stringMatching(/^SEND_SHARE: /)]);
    expect(testConfig('http://127.0.0.1:9', { SEND_SHARE: 'off' }).send.share).toBeUndefined();
    expect(testConfig('http://127.0.0.1:9').send.share).toEqual({ count: 100, windowMs: 10_000 });
  });
});
