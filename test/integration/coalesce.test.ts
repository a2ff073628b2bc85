import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLAIM_LEASE_MS, CoalescePool } from '../../src/messages/coalesce-pool';
import { SEPARATOR } from '../../src/messages/coalesce';
import { carryPart, startPart, updateOpenPart } from '../../src/messages/store-scripts';
import { QUEUES } from '../../src/queues/catalog';
import { capturedLogs } from '../support/captured-logs';
import { templatesWith } from '../support/fixture-templates';
import { eventually, finalStatus, metricLines, startHarness, type Harness } from '../support/harness';

const OPS_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a0c1';
const TEAM = 'coalesce-team-key-0123456789abcdef';
const SOLO = 'coalesce-solo-key-0123456789abcdef';
const OTHER = 'coalesce-other-key-0123456789abcdef';
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
/**
 * Budgets scaled down so a test takes seconds, at the gateway and the simulator alike: 30 per 6 s per member,
 * 20 per 6 s per robot (long enough for a test to post 100 messages within one window, also on a busy machine).
 */
const MEMBER_WINDOW = { count: 30, windowMs: 6_000 };
const ROBOT_WINDOW = { count: 20, windowMs: 6_000 };

let dir: string;
let templatesDir: string;
let configFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgw-coalesce-'));
  templatesDir = templatesWith(dir, ['group.note.yaml']);
  configFile = join(dir, 'gateway.yaml');
  const keys = [
    'apiKeys:',
    `  - { name: team, key: ${TEAM} }`,
    `  - { name: solo, key: ${SOLO}, coalesce: false }`,
    `  - { name: other, key: ${OTHER} }`,
  ];
  writeFileSync(configFile, `${keys.join('\n')}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENV = () => ({
  TEMPLATES_DIR: templatesDir,
  GATEWAY_CONFIG: configFile,
  API_RATE_LIMIT_PER_MINUTE: '0',
  WECOM_ROBOTS: `ops=${OPS_KEY}`,
  ROBOT_QUOTA: `${ROBOT_WINDOW.count}/${ROBOT_WINDOW.windowMs / 1000}`,
});
const note = (msgtype: string, content: string, to: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  event: 'group.note',
  msgtype,
  to,
  data: { content },
  ...extra,
});
const marker = (tag: string, i: number) => `${tag}-${String(i).padStart(3, '0')}`;

/** Posts in order, each accepted in a later millisecond than the one before (acceptance order is the order merged parts keep). */
async function postInOrder(h: Harness, bodies: Record<string, unknown>[], key = TEAM): Promise<string[]> {
  const ids: string[] = [];
  for (const body of bodies) {
    const res = await h.api.post('/v1/messages').set('Authorization', `Bearer ${key}`).send(body);
    expect(res.status).toBe(202);
    ids.push(res.body.id);
    const answered = Date.now();
    while (Date.now() === answered) await new Promise(setImmediate);
  }
  return ids;
}

/** The contents a member got, oldest first, one per message/send call. */
const memberContents = (h: Harness, user: string) =>
  h.sim.sent.filter((m) => m.touser.includes(user)).map((m) => String((m.body[m.msgtype] as { content?: string }).content));

/** Each marker's position in the delivered contents: -1 when it never arrived. */
function positions(contents: string[], markers: string[]): number[] {
  const all = contents.join('\n');
  return markers.map((m) => all.indexOf(m));
}

const isIncreasing = (list: number[]) => list.every((v, i) => v >= 0 && (i === 0 || v > list[i - 1]));

/**
 * Every marker arrived in exactly one message, and each merged message holds its parts in acceptance order. A member's
 * messages have no line (unlike a robot's): separate sends may overtake each other, so only this is promised.
 */
function eachOnceMergedInOrder(contents: string[], markers: string[]): boolean {
  const once = markers.every((m) => contents.filter((c) => c.includes(m)).length === 1);
  return once && contents.every((c) => isIncreasing(positions([c], markers).filter((p) => p >= 0)));
}

async function coalescedCount(h: Harness): Promise<number> {
  const line = await metricLines(h.api, 'wecom_gateway_messages_coalesced_total');
  return Number(/ (\d+)$/m.exec(line)?.[1] ?? 0);
}

describe('coalescing parts waiting for a member', () => {
  let h: Harness;
  const logs = capturedLogs();
  beforeAll(async () => {
    h = await startHarness({
      logger: logs.logger,
      env: { ...ENV(), MEMBER_QUOTA: `${MEMBER_WINDOW.count}/${MEMBER_WINDOW.windowMs / 1000}` },
      simulator: { memberLimits: [MEMBER_WINDOW] },
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('when 100 texts go to one member over a 30-per-window budget, then all 100 arrive (each merged message in order) in at most 30 + a handful of calls, each record sent', async () => {
    const before = await coalescedCount(h);
    const markers = Array.from({ length: 100 }, (_, i) => marker('t100', i));
    const ids = await postInOrder(
      h,
      markers.map((m) => note('text', `${m} disk 95% on db${m}`, { users: ['coal01'] })),
    );
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 30_000, TEAM)));
    expect(views.map((v) => v.status)).toEqual(ids.map(() => 'sent'));
    const contents = memberContents(h, 'coal01');
    // Without coalescing 100 calls; with it, 30 in the first window and the other 70 in a few merged ones.
    expect(contents.length).toBeLessThanOrEqual(MEMBER_WINDOW.count + 6);
    expect(eachOnceMergedInOrder(contents, markers)).toBe(true);
    expect(contents.every((c) => Buffer.byteLength(c) <= 2048)).toBe(true);
    expect(h.sim.dropped).toBe(0);
    const carried = views.filter((v) => v.coalesced);
    expect(carried.length).toBe(100 - contents.length);
    expect(carried[0].coalesced[0]).toEqual({ part: 0, coalescedInto: { messageId: expect.any(String), part: 0 } });
    expect(ids).toContain(carried[0].coalesced[0].coalescedInto.messageId);
    expect(carried[0].msgid).toEqual(expect.any(String));
    expect((await coalescedCount(h)) - before).toBe(100 - contents.length);
    // One line per merged send: how many parts, to whom, the carrier; never the content.
    const merged = logs.lines.filter((l) => l.msg === 'waiting messages coalesced into one');
    expect(merged.map((l) => l.parts).reduce((a, b) => a + b, 0)).toBe(100 - contents.length + merged.length);
    expect(merged[0]).toMatchObject({ to: 'members', carrier: { messageId: expect.any(String), part: 0 } });
    expect(JSON.stringify(merged)).not.toContain('disk 95%');
    // The console's page of a carried message links its carrier.
    const page = await h.api.get(`/dashboard/messages/${carried[0].id}`).set('Authorization', `Bearer ${TEAM}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`/messages/${carried[0].coalesced[0].coalescedInto.messageId}"`);
  }, 60_000);

  it('when markdown parts wait, then each merged message stays within 2048 bytes and a part near the limit goes on its own', async () => {
    const small = Array.from({ length: 40 }, (_, i) => marker('md', i));
    const big = `${marker('big', 0)} ${'x'.repeat(2_000)}`;
    const bodies = [
      ...small.slice(0, 35).map((m) => note('markdown', `**${m}** ${'y'.repeat(200)}`, { users: ['coal02'] })),
      note('markdown', big, { users: ['coal02'] }),
      ...small.slice(35).map((m) => note('markdown', `**${m}** ${'y'.repeat(200)}`, { users: ['coal02'] })),
    ];
    const ids = await postInOrder(h, bodies);
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 30_000, TEAM)));
    expect(views.every((v) => v.status === 'sent')).toBe(true);
    const contents = memberContents(h, 'coal02');
    expect(contents.every((c) => Buffer.byteLength(c) <= 2048)).toBe(true);
    expect(contents.some((c) => c.split(SEPARATOR).length > 1)).toBe(true);
    const bigOnes = contents.filter((c) => c.includes(marker('big', 0)));
    expect(bigOnes).toEqual([big]);
    expect(eachOnceMergedInOrder(contents, [...small.slice(0, 35), marker('big', 0), ...small.slice(35)])).toBe(true);
  }, 60_000);

  it('when a request says coalesce: false, or its key does, then its parts go one by one (one call each)', async () => {
    const optOut = Array.from({ length: 36 }, (_, i) => note('text', marker('own', i), { users: ['coal03'] }, { coalesce: false }));
    const byRequest = await postInOrder(h, optOut);
    const views = await Promise.all(byRequest.map((id) => finalStatus(h.api, id, 30_000, TEAM)));
    expect(views.every((v) => v.status === 'sent' && v.coalesce === false && !v.coalesced)).toBe(true);
    // One call each: 30 within the window, the other 6 after it, never merged.
    expect(memberContents(h, 'coal03').sort()).toEqual(optOut.map((b) => b.data.content).sort());

    const byKey = await postInOrder(
      h,
      Array.from({ length: 36 }, (_, i) => note('text', marker('solo', i), { users: ['coal04'] })),
      SOLO,
    );
    await Promise.all(byKey.map((id) => finalStatus(h.api, id, 30_000, SOLO)));
    expect(memberContents(h, 'coal04')).toHaveLength(36);
    expect(h.sim.dropped).toBe(0);
  }, 90_000);

  it('when two keys send to one member over budget, then none merges both; a carried part is recalled via its carrier, which takes all back', async () => {
    const fill = await postInOrder(
      h,
      Array.from({ length: MEMBER_WINDOW.count }, (_, i) => note('text', marker('fill6', i), { users: ['coal06'] })),
    );
    const mine = Array.from({ length: 8 }, (_, i) => marker('kA', i));
    const theirs = Array.from({ length: 8 }, (_, i) => marker('kB', i));
    const ids: { id: string; key: string }[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push({ id: (await postInOrder(h, [note('text', mine[i], { users: ['coal06'] })]))[0], key: TEAM });
      ids.push({ id: (await postInOrder(h, [note('text', theirs[i], { users: ['coal06'] }, {})], OTHER))[0], key: OTHER });
    }
    await Promise.all(fill.map((id) => finalStatus(h.api, id, 30_000, TEAM)));
    const views = await Promise.all(ids.map(({ id, key }) => finalStatus(h.api, id, 30_000, key)));
    expect(views.every((v) => v.status === 'sent')).toBe(true);
    const contents = memberContents(h, 'coal06');
    expect(contents.some((c) => c.includes('kA-') && c.includes('kB-'))).toBe(false);
    expect(eachOnceMergedInOrder(contents, mine) && eachOnceMergedInOrder(contents, theirs)).toBe(true);

    const carried = views.find((v) => v.coalesced && ids.find((x) => x.id === v.id)!.key === TEAM)!;
    expect(carried).toBeDefined();
    const carrierId = carried.coalesced[0].coalescedInto.messageId;
    const refused = await h.api.delete(`/v1/messages/${carried.id}`).set('Authorization', `Bearer ${TEAM}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'not_recallable', message: expect.stringContaining(carrierId) });
    expect((await h.api.get(`/v1/messages/${carried.id}`).set('Authorization', `Bearer ${TEAM}`)).body.status).toBe('sent');

    const recalled = await h.api.delete(`/v1/messages/${carrierId}`).set('Authorization', `Bearer ${TEAM}`);
    expect(recalled.status).toBe(200);
    expect(recalled.body.status).toBe('recalled');
    // Every part the carrier's WeCom message held is recalled with it (they share its msgid).
    const sharing = views.filter((v) => v.msgid === carried.msgid);
    expect(sharing.length).toBeGreaterThan(1);
    for (const v of sharing) {
      expect((await h.api.get(`/v1/messages/${v.id}`).set('Authorization', `Bearer ${TEAM}`)).body.status).toBe('recalled');
    }
    expect(h.sim.sent.find((m) => m.msgid === carried.msgid)?.recalled).toBe(true);
  }, 90_000);
});

describe('coalescing parts waiting for a robot', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: ENV(), simulator: { robotKeys: [OPS_KEY], robotLimit: ROBOT_WINDOW } });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('when 60 markdown messages go to a robot taking 20 per window, then all arrive in order in far fewer than 60 webhook calls', async () => {
    const markers = Array.from({ length: 60 }, (_, i) => marker('rb', i));
    const ids = await postInOrder(
      h,
      markers.map((m) => note('markdown', `**${m}** <font color="warning">disk</font>`, { robots: ['ops'] })),
    );
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 30_000, TEAM)));
    expect(views.every((v) => v.status === 'sent')).toBe(true);
    const contents = h.sim.robotSent.map((m) => String(m.body.content));
    expect(contents.length).toBeLessThan(30);
    expect(contents.every((c) => Buffer.byteLength(c) <= 4096)).toBe(true);
    expect(isIncreasing(positions(contents, markers))).toBe(true);
    const carried = views.find((v) => v.coalesced);
    expect(carried!.deliveries[0]).toMatchObject({
      to: 'robot ops',
      status: 'sent',
      coalescedInto: { messageId: expect.any(String), part: 0 },
    });
  }, 60_000);

  it('when an image waits among texts for a robot, then it is not merged and keeps its place in the line', async () => {
    const filler = Array.from({ length: 20 }, (_, i) => note('text', marker('fill', i), { robots: ['ops'] }));
    const before = Array.from({ length: 6 }, (_, i) => note('text', marker('mxa', i), { robots: ['ops'] }));
    const after = Array.from({ length: 6 }, (_, i) => note('text', marker('mxb', i), { robots: ['ops'] }));
    const image = { event: 'group.note', msgtype: 'image', to: { robots: ['ops'] }, data: { base64: PNG } };
    const ids = await postInOrder(h, [...filler, ...before, image, ...after]);
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 30_000, TEAM)));
    expect(views.every((v) => v.status === 'sent')).toBe(true);
    const sent = h.sim.robotSent;
    const images = sent.map((m, i) => [m.msgtype, i] as const).filter(([type]) => type === 'image');
    expect(images).toHaveLength(1);
    const at = (m: string) => sent.findIndex((s) => String(s.body.content ?? '').includes(m));
    const imageAt = images[0][1];
    expect(before.every((_, i) => at(marker('mxa', i)) >= 0 && at(marker('mxa', i)) < imageAt)).toBe(true);
    expect(after.every((_, i) => at(marker('mxb', i)) > imageAt)).toBe(true);
    expect(sent.length).toBeLessThan(ids.length);
  }, 60_000);
});

describe('a carrier that dies after claiming', () => {
  let h: Harness;
  let offset = 0;
  beforeAll(async () => {
    // A long member window: the waiting parts never wake by themselves; the test moves the clock instead.
    h = await startHarness({ env: { ...ENV(), MEMBER_QUOTA: '3/600' }, clock: () => Date.now() + offset });
  });
  afterAll(() => h.close());

  it('when a claim is never recorded, then after its lease the parts are still sent, every one', async () => {
    const markers = Array.from({ length: 8 }, (_, i) => marker('crash', i));
    const ids = await postInOrder(
      h,
      markers.map((m) => note('text', m, { users: ['coal05'] })),
    );
    const waiting = ids.slice(3);
    await eventually(async () => {
      const views = await Promise.all(
        waiting.map(async (id) => (await h.api.get(`/v1/messages/${id}`).set('Authorization', `Bearer ${TEAM}`)).body.status),
      );
      return views.every((s) => s === 'deferred') || undefined;
    }, 15_000);
    // A carrier claims the five waiting parts, then dies before sending or recording them.
    const pool = new CoalescePool(h.redis, h.keys);
    const tag = `${h.config.apps[0].corpId}:${h.config.apps[0].agentId}`;
    const names = await h.redis.keys(h.keys.coalesce(tag, '*', 'order'));
    expect(names).toHaveLength(1);
    const poolName = names[0].slice(names[0].indexOf('}:') + 2, -':order'.length);
    const at = { tag, pool: poolName };
    const ghost = await pool.claimWaiting(
      at,
      { sendId: 'ghost_0', place: 0, body: { c: 'ghost' } },
      { bytes: 2048, separatorBytes: 7 },
      Date.now() + offset,
    );
    expect(ghost.kind === 'claimed' && ghost.parts.filter((p) => p.sendId !== 'ghost_0').length).toBe(5);
    await pool.settle(at, ghost.kind === 'claimed' ? ghost.id : '', ['ghost_0'], 'done', Date.now() + offset);

    // Time passes beyond the lease and the budget's window; BullMQ's delays are on the wall clock, so they are promoted.
    offset += CLAIM_LEASE_MS + 601_000;
    const queue = h.gateway.queues.get(QUEUES.send.name)!;
    const views = await eventually(
      async () => {
        for (const job of await queue.getDelayed()) await job.promote().catch(() => undefined);
        const all = await Promise.all(
          waiting.map(async (id) => (await h.api.get(`/v1/messages/${id}`).set('Authorization', `Bearer ${TEAM}`)).body),
        );
        return all.every((v) => v.status === 'sent') ? all : undefined;
      },
      20_000,
      100,
    );
    expect(views).toHaveLength(5);
    const contents = memberContents(h, 'coal05');
    expect(eachOnceMergedInOrder(contents, markers)).toBe(true);
    expect(contents.join('\n')).not.toContain('ghost');
    // Three alone, the five waiting in one merged message.
    expect(contents).toHaveLength(4);
  }, 60_000);
});

describe('a coalescing pool in Redis', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: ENV() });
  });
  afterAll(() => h.close());

  it("when a claim is settled done, then the pool's keys, the done set included, all expire", async () => {
    const pool = new CoalescePool(h.redis, h.keys);
    const at = { tag: 'ttl-test', pool: `text:${Date.now()}` };
    expect(await pool.join(at, 'waiting_0', 1, { c: 'a' })).toBe(true);
    const claim = await pool.claimWaiting(
      at,
      { sendId: 'carrier_0', place: 2, body: { c: 'b' } },
      { bytes: 2048, separatorBytes: 7 },
      Date.now(),
    );
    expect(claim.kind).toBe('claimed');
    await pool.settle(at, claim.kind === 'claimed' ? claim.id : '', ['waiting_0'], 'done', Date.now());
    const done = h.keys.coalesce(at.tag, at.pool, 'done');
    expect(await h.redis.zscore(done, 'waiting_0')).not.toBeNull();
    expect(await h.redis.pttl(done)).toBeGreaterThan(0);
    expect(await h.redis.pttl(done)).toBeLessThanOrEqual(3_600_000);
  });

  it('when a carrier takes a waiting part, then it is sending (recall: being_sent), its own job keeps the mark, a release gives it back', async () => {
    const worker = h.gateway.workers.find((w) => w.name === 'send')!;
    await worker.pause();
    const res = await h.api
      .post('/v1/messages')
      .set('Authorization', `Bearer ${TEAM}`)
      .send(note('text', 'carried', { users: ['coal07'] }));
    const parts = h.keys.messageParts(res.body.id);
    const queued = (await h.redis.hget(parts, '0'))!;
    const marked = JSON.stringify({ status: 'sending', attempts: 0, coalescedInto: { messageId: 'carrier', part: 0 }, updatedAt: 1 });
    expect(await carryPart(h.redis, parts, 0, 'take', marked)).toEqual({ done: true, before: queued });
    const refused = await h.api.delete(`/v1/messages/${res.body.id}`).set('Authorization', `Bearer ${TEAM}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('being_sent');
    // Its own job, starting or waiting meanwhile, does not write over the carrier's mark.
    const mark = (await h.redis.hget(parts, '0'))!;
    expect(await startPart(h.redis, parts, 0, JSON.stringify({ status: 'sending', attempts: 1, updatedAt: 2 }))).toBe(mark);
    expect((await carryPart(h.redis, parts, 0, 'release', queued)).done).toBe(true);
    expect(await h.redis.hget(parts, '0')).toBe(queued);
    // Taken again, and its own job meant it to wait meanwhile: given back, it waits as its job meant.
    await carryPart(h.redis, parts, 0, 'take', marked);
    const waiting = { status: 'deferred', attempts: 0, until: 5, reason: 'over budget', updatedAt: 3 };
    expect(await updateOpenPart(h.redis, parts, 0, JSON.stringify(waiting))).toBe(false);
    expect(JSON.parse((await h.redis.hget(parts, '0'))!).status).toBe('sending');
    expect((await carryPart(h.redis, parts, 0, 'release', queued)).done).toBe(true);
    expect(JSON.parse((await h.redis.hget(parts, '0'))!)).toEqual(waiting);
    // A part sent (or failed, recalled) meanwhile is not taken.
    await h.redis.hset(parts, '0', JSON.stringify({ status: 'failed', attempts: 3, updatedAt: 4 }));
    expect((await carryPart(h.redis, parts, 0, 'take', marked)).done).toBe(false);
    await worker.resume();
  });

  it('when a robot part left its line without being carried (failed, recalled), then the next claim drops its pool entry', async () => {
    const pool = new CoalescePool(h.redis, h.keys);
    const line = `coalesce-test:line:{robot-x}:${Date.now()}`;
    const at = { tag: 'robot-x', pool: `robot:text:${Date.now()}`, line };
    await h.redis.zadd(line, 1, 'head_0', 2, 'behind_0');
    await pool.join(at, 'behind_0', 1, { c: 'b' });
    await pool.join(at, 'gone_0', 1, { c: 'left the line' });
    const claim = await pool.claimBehind(at, { sendId: 'head_0', bytes: 1, usedUp: true }, { bytes: 4096, separatorBytes: 7 }, Date.now());
    expect(claim.kind === 'claimed' && claim.parts.map((p) => p.sendId)).toEqual(['behind_0']);
    expect(await h.redis.zscore(h.keys.coalesce(at.tag, at.pool, 'order'), 'gone_0')).toBeNull();
    expect(await h.redis.hget(h.keys.coalesce(at.tag, at.pool, 'bodies'), 'gone_0')).toBeNull();
  });
});
