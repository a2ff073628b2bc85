import { indexMessage } from '../../src/messages/store-scripts';
import { alert, finalStatus, startHarness, type Harness } from '../support/harness';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Listed = { id: string; status: string; event: string; createdAt: string; recipients?: string };

describe('GET /v1/messages (the list)', () => {
  let h: Harness;
  /** Oldest first, as sent: a failed one to zhangsan, a deploy to lisi, three alerts. */
  const ids: string[] = [];
  beforeAll(async () => {
    h = await startHarness();
    const bodies = [
      alert({ data: { title: 'will fail', content: 'c', level: 'info' } }),
      {
        event: 'deploy.finished',
        msgtype: 'text',
        to: { users: ['LiSi'] },
        data: { service: 'api', version: '1.4.2', environment: 'prod', status: 'succeeded' },
      },
      alert({ to: { users: ['wangwu'], parties: [2] } }),
      alert(),
      alert({ to: { users: ['zhangsan', 'lisi'] } }),
    ];
    h.sim.failNext(1, { errcode: 81013, errmsg: 'user, party and tag are all invalid' });
    for (const body of bodies) {
      const res = await h.api.post('/v1/messages').send(body);
      expect(res.status).toBe(202);
      ids.push(res.body.id);
      // The first must have failed before the others take WeCom's next answer; distinct milliseconds keep "newest first" one order.
      if (ids.length === 1) await finalStatus(h.api, res.body.id);
      await pause(3);
    }
    await Promise.all(ids.map((id) => finalStatus(h.api, id)));
  });
  afterAll(() => h.close());

  const list = async (query = '') => {
    const res = await h.api.get(`/v1/messages${query ? `?${query}` : ''}`);
    expect(res.status).toBe(200);
    return res.body as { messages: Listed[]; next?: string };
  };

  it('when it is asked without filters, then every message comes, newest first, each as GET /v1/messages/{id} shows it', async () => {
    const { messages, next } = await list();
    expect(messages.map((m) => m.id)).toEqual([...ids].reverse());
    expect(next).toBeUndefined();
    expect(messages[0]).toEqual((await h.api.get(`/v1/messages/${ids[4]}`)).body);
  });

  it('when it is paged with limit and the next cursor, then each message comes once, in order', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await list(`limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.messages.length).toBeLessThanOrEqual(2);
      seen.push(...page.messages.map((m) => m.id));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
  });

  it('when filtered by status, event or recipient, then only those match', async () => {
    expect((await list('status=failed')).messages.map((m) => m.id)).toEqual([ids[0]]);
    expect((await list('status=failed,sent')).messages).toHaveLength(5);
    expect((await list('event=deploy.finished')).messages.map((m) => m.id)).toEqual([ids[1]]);
    // A userid in any case (WeCom's are case-insensitive), among users, parties, tags, robots or chats.
    expect((await list('recipient=lisi')).messages.map((m) => m.id)).toEqual([ids[4], ids[1]]);
    expect((await list('recipient=2')).messages.map((m) => m.id)).toEqual([ids[2]]);
    expect((await list('recipient=zhangsan&status=sent&limit=1')).messages.map((m) => m.id)).toEqual([ids[4]]);
  });

  it('when since and until are given, then since is inclusive and until exclusive', async () => {
    const third = (await h.api.get(`/v1/messages/${ids[2]}`)).body.createdAt as string;
    expect((await list(`since=${third}`)).messages.map((m) => m.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect((await list(`until=${third}`)).messages.map((m) => m.id)).toEqual([ids[1], ids[0]]);
    expect((await list(`since=${third}&until=${third}`)).messages).toEqual([]);
    // Another zone, its + unescaped as a shell user types it (a query string reads it as a space).
    const inShanghai = new Date(Date.parse(third) + 8 * 3_600_000).toISOString().replace('Z', '+08:00');
    expect((await list(`since=${inShanghai}`)).messages.map((m) => m.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect((await list('since=2000-01-01')).messages).toHaveLength(5);
  });

  it.each([
    ['status=nope', 'query.status'],
    ['since=yesterday', 'query.since'],
    ['until=2026-13-45T00:00:00Z', 'query.until'],
    ['until=2026-11-24T10:00:00', 'query.until'],
    ['cursor=0:zz', 'query.cursor'],
    ['limit=0', 'query.limit'],
    ['stauts=failed', 'query.stauts'],
    ['status=sent&status=failed', 'query.status'],
  ])('when the query has %s, then 400 names %s', async (query, field) => {
    const res = await h.api.get(`/v1/messages?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.fields.map((f: { field: string }) => f.field)).toEqual([field]);
  });

  it('when the index holds more than one request reads, then a page stops short with a next cursor, and paging on finds the rest', async () => {
    // 2,500 entries newer than every message, whose records are gone (as a message removed after a failed queueing leaves).
    const now = Date.now() + 60_000;
    const entries = Array.from(
      { length: 2_500 },
      (_, i) => `${String(now + i).padStart(13, '0')}:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    await h.redis.zadd(h.keys.messageIndex, ...entries.flatMap((e) => [0, e]));
    try {
      const first = await list('status=failed');
      expect(first.messages).toEqual([]);
      expect(first.next).toEqual(entries[500]);
      const second = await list(`status=failed&cursor=${encodeURIComponent(first.next!)}`);
      expect(second.messages.map((m) => m.id)).toEqual([ids[0]]);
      expect(second.next).toBeUndefined();
    } finally {
      await h.redis.zrem(h.keys.messageIndex, ...entries);
    }
  });

  it('when messages are indexed, then the index expires with the records and keeps to its cap and the retention', async () => {
    const ttl = await h.redis.ttl(h.keys.messageIndex);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(h.config.retentionSeconds);
    const key = `${h.keys.prefix}:index-script-test`;
    const entry = (ms: number, n: number) => `${String(ms).padStart(13, '0')}:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    for (let n = 1; n <= 5; n++)
      await indexMessage(h.redis, [key], { entry: entry(1_000 + n, n), oldestKept: entry(1_002, 0), cap: 3, ttlSeconds: 60 });
    expect(await h.redis.zrange(key, 0, -1)).toEqual([entry(1_003, 3), entry(1_004, 4), entry(1_005, 5)]);
    expect(await h.redis.ttl(key)).toBeGreaterThan(0);
    await h.redis.del(key);
  });
});

describe('GET /v1/messages with API keys', () => {
  const ALPHA = 'alpha-list-key-0123456789';
  const BETA = 'beta-list-key-0123456789';
  const ADMIN = 'admin-list-key-0123456789';
  const SENDER = 'sender-list-key-0123456789';
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_API_KEYS: `${ALPHA}:send+read,${BETA}:send+read,${ADMIN},${SENDER}:send` } });
  });
  afterAll(() => h.close());

  it('when keys list messages, then each sees exactly what GET /v1/messages/{id} lets it see: its own, and an admin all', async () => {
    const send = async (key: string) => (await h.api.post('/v1/messages').set(bearer(key)).send(alert())).body.id as string;
    const alpha = [await send(ALPHA), await send(ALPHA)];
    const beta = await send(BETA);
    const listed = async (key: string) => {
      const res = await h.api.get('/v1/messages').set(bearer(key));
      expect(res.status).toBe(200);
      return new Set((res.body.messages as Listed[]).map((m) => m.id));
    };
    expect(await listed(ALPHA)).toEqual(new Set(alpha));
    expect(await listed(BETA)).toEqual(new Set([beta]));
    expect(await listed(ADMIN)).toEqual(new Set([...alpha, beta]));
    // The same answers as reading each by id.
    for (const id of [...alpha, beta])
      expect((await h.api.get(`/v1/messages/${id}`).set(bearer(BETA))).status).toBe(id === beta ? 200 : 404);
  });

  it('when a key without the read permission lists, then 403; without a key, 401', async () => {
    expect((await h.api.get('/v1/messages').set(bearer(SENDER))).status).toBe(403);
    expect((await h.api.get('/v1/messages')).status).toBe(401);
  });
});
