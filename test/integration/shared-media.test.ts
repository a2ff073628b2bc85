import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { DownloadSlots } from '../../src/budgets/download-slots';
import { redisKeys } from '../../src/redis/keys';
import { alert, eventually, finalStatus, startHarness, uniquePrefix, type Harness } from '../support/harness';

const TEAM_A = 'team-a-key-0123456789abcdef';
const TEAM_B = 'team-b-key-0123456789abcdef';
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** A loopback file server: `/slow.csv` trickles one byte a second for ever, `/fast.csv` answers at once. */
async function fileServer() {
  const requests: string[] = [];
  const trickles = { open: 0, most: 0 };
  const server: Server = createServer((req, res) => {
    requests.push(String(req.url));
    if (req.url !== '/slow.csv') return void res.end('id,value\n1,42\n');
    trickles.most = Math.max(trickles.most, ++trickles.open);
    res.writeHead(200, { 'content-type': 'text/csv' });
    const tick = setInterval(() => res.write('x'), 1_000);
    res.on('close', () => {
      trickles.open--;
      clearInterval(tick);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    trickles,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const fileMessage = (fileUrl: string, n: number) => ({
  event: 'report.ready',
  msgtype: 'file',
  to: { users: ['zhangsan'] },
  data: { fileUrl, filename: `report-${n}.csv` },
});

describe("one key's slow downloads and another key's messages", () => {
  let h: Harness;
  let files: Awaited<ReturnType<typeof fileServer>>;
  beforeAll(async () => {
    files = await fileServer();
    h = await startHarness({
      env: {
        EGRESS_ALLOW: '127.0.0.1',
        GATEWAY_API_KEYS: `${TEAM_A},${TEAM_B}`,
        // The whole-download timeout stays long: what cuts a trickle is the minimum rate, after a short grace here (5 s by default).
        EGRESS_TIMEOUT_MS: '20000',
        MEDIA_MIN_RATE_GRACE_MS: '1000',
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await files.close();
  });

  it("when key A's twenty files trickle one byte a second, then key B's alert is sent within 5 s, B's file within a few, and A's fail as too slow, tried once", async () => {
    const posted = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        h.api
          .post('/v1/messages')
          .set(bearer(TEAM_A))
          .send(fileMessage(`${files.url}/slow.csv`, n)),
      ),
    );
    expect(posted.map((r) => r.status)).toEqual(Array(20).fill(202));
    // A's downloads have begun (the old send workers held all twenty at once).
    await eventually(() => files.requests.filter((u) => u === '/slow.csv').length >= 2 || undefined, 10_000);
    await new Promise((r) => setTimeout(r, 500));

    const started = Date.now();
    const text = await h.api.post('/v1/messages').set(bearer(TEAM_B)).send(alert());
    const file = await h.api
      .post('/v1/messages')
      .set(bearer(TEAM_B))
      .send(fileMessage(`${files.url}/fast.csv`, 99));
    expect([text.status, file.status]).toEqual([202, 202]);
    const [textView, textMs, fileView, fileMs] = await Promise.all([
      finalStatus(h.api, text.body.id, 40_000, TEAM_B).then((v) => [v, Date.now() - started] as const),
      finalStatus(h.api, file.body.id, 40_000, TEAM_B).then((v) => [v, Date.now() - started] as const),
    ]).then(([t, f]) => [t[0], t[1], f[0], f[1]] as const);
    process.stdout.write(`shared-media: B's alert sent after ${textMs} ms, B's file after ${fileMs} ms\n`);
    expect(textView.status).toBe('sent');
    expect(textMs).toBeLessThan(5_000);
    expect(fileView.status).toBe('sent');
    expect(fileMs).toBeLessThan(8_000);

    const views = await Promise.all(posted.map((r) => finalStatus(h.api, r.body.id, 60_000, TEAM_A)));
    process.stdout.write(`shared-media: A's twenty trickles all failed after ${Date.now() - started} ms\n`);
    for (const view of views) expect(view).toMatchObject({ status: 'failed', attempts: 1, error: { errmsg: 'download failed: too slow' } });
    // Tried once each: a trickle cut for being too slow is not downloaded again.
    expect(files.requests.filter((u) => u === '/slow.csv')).toHaveLength(20);
    // MEDIA_DOWNLOADS_PER_KEY (2 by default): A never held more download slots than that.
    process.stdout.write(`shared-media: at most ${files.trickles.most} of A's downloads at once\n`);
    expect(files.trickles.most).toBeLessThanOrEqual(2);
  }, 120_000);
});

describe("a robot's file by URL", () => {
  const KEY_1 = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5c0a1';
  const KEY_2 = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5c0a2';
  let h: Harness;
  let files: Awaited<ReturnType<typeof fileServer>>;
  beforeAll(async () => {
    files = await fileServer();
    h = await startHarness({
      // One message per key and window: the second file goes with the pool's second key.
      env: { EGRESS_ALLOW: '127.0.0.1', ROBOT_QUOTA: '1/30' },
      simulator: { robotKeys: [KEY_1, KEY_2] },
      config: (c) => ({ ...c, robots: [{ name: 'pool', keys: [KEY_1, KEY_2], apiBase: c.wecom.apiBase }] }),
    });
  });
  afterAll(async () => {
    await h.close();
    await files.close();
  });

  it("when two files go to a pool of two keys, then the media worker fetches each once and each is sent with a media_id of its sending key's own", async () => {
    const send = (n: number) =>
      h.api.post('/v1/messages').send({
        event: 'report.ready',
        msgtype: 'file',
        to: { robots: ['pool'] },
        data: { fileUrl: `${files.url}/fast.csv?n=${n}`, filename: `r${n}.csv` },
      });
    const ids = [(await send(1)).body.id, (await send(2)).body.id];
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id, 15_000)));
    expect(views.map((v) => v.status)).toEqual(['sent', 'sent']);
    expect(h.sim.robotSent.map((m) => [m.key, m.msgtype])).toEqual([
      [KEY_1, 'file'],
      [KEY_2, 'file'],
    ]);
    expect(files.requests.filter((u) => u.startsWith('/fast.csv'))).toHaveLength(2);
  });
});

describe('download slots per key, in Redis', () => {
  let redis: Redis;
  beforeAll(() => void (redis = new Redis(process.env.TEST_REDIS_URL!)));
  afterAll(() => redis.quit());

  it("when a key holds its two slots, then its third download waits until one is released or a dead holder's lease lapses, and another key is not held back", async () => {
    const slots = new DownloadSlots(redis, redisKeys(uniquePrefix()), { perOwner: 2, leaseMs: 300 });
    expect([await slots.take('a', 'a1'), await slots.take('a', 'a2'), await slots.take('a', 'a3')]).toEqual([true, true, false]);
    expect(await slots.take('b', 'b1')).toBe(true);
    // Asking again keeps a held slot.
    expect(await slots.take('a', 'a1')).toBe(true);
    await slots.release('a', 'a1');
    expect(await slots.take('a', 'a3')).toBe(true);
    expect(await slots.take('a', 'a4')).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(await slots.take('a', 'a4')).toBe(true);
  });
});
