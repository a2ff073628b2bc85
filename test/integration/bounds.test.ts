import { createServer, type Server } from 'node:http';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { JOB_RETENTION, DEAD_LETTERS_KEPT } from '../../src/queues/retention';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { amAlert, amPayload } from '../support/alertmanager';
import { alert, eventually, finalStatus, SIM_APP, startHarness, startTestRedis, type Harness } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

const KEY = 'bounds-admin-key-0123456789';
const TOKEN = 'boundsToken1';
const AES_KEY = 'BoundsKey0123456789abcdefghijklmnopqrstuvwx';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
const auth = { Authorization: `Bearer ${KEY}` };

/** A downstream that refuses everything (400): every delivery to it becomes a dead letter at once. */
async function refusingServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(400).end('no'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

let createTime = 1_700_000_000;
async function push(h: Harness, fields: Record<string, string>): Promise<void> {
  const p = encryptedPush(
    wecom,
    SIM_APP.corpId,
    eventXml({ ToUserName: SIM_APP.corpId, FromUserName: 'sys', CreateTime: String(createTime++), ...fields }),
  );
  expect((await h.api.post(`/wecom/callback?${p.query}`).set('content-type', 'text/xml').send(p.body)).status).toBe(200);
}

async function allJobs(h: Harness, name: string): Promise<Job[]> {
  return h.gateway.queues.get(name)!.getJobs(['completed', 'failed', 'waiting', 'delayed', 'active']);
}

describe('bounded queues and dead letters', () => {
  let h: Harness;
  let downstream: Awaited<ReturnType<typeof refusingServer>>;

  beforeAll(async () => {
    downstream = await refusingServer();
    h = await startHarness({
      env: {
        GATEWAY_API_KEYS: KEY,
        WECOM_CALLBACK_TOKEN: TOKEN,
        WECOM_CALLBACK_AES_KEY: AES_KEY,
        INBOUND_WEBHOOK_URL: downstream.url,
        CONTACT_SYNC_WEBHOOK_URL: downstream.url,
        CONTACTS_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
        STORM_PER_RECIPIENT_PER_MINUTE: '1',
        // Alert cards: their resolve is a job of the alert-actions queue (no Alertmanager is called).
        ALERTMANAGER_URL: 'http://127.0.0.1:9',
        // The status callback goes to this test's own loopback server.
        EGRESS_ALLOW: '127.0.0.1/32',
      },
      // The sandbox's expo2026 demo activity (its tags give the welcome-tags queue a job) loads in sandbox mode only.
      // An on-call schedule: its next handoff is a job of the oncall-handoff queue.
      config: (c) => ({
        ...c,
        sandbox: true,
        oncall: [{ name: 'sre', timezone: 'UTC', rotation: { users: ['ops1'], every: '1d', handoff: '09:00', start: '2026-01-01' } }],
      }),
    });
  });
  afterAll(async () => {
    await h.close();
    await downstream.stop();
  });

  it('when every flow has put jobs in its queue, then every queue keeps its completed and failed jobs for a bounded age and count, the same for all', async () => {
    const sent = await h.api
      .post('/v1/messages')
      .set(auth)
      .send(alert({ callbackUrl: downstream.url }));
    expect(sent.status).toBe(202);
    await finalStatus(h.api, sent.body.id, 10_000, KEY);
    // A file by URL: the media queue fetches it (whatever the downstream answers, the job is kept the same way).
    const file = await h.api
      .post('/v1/messages')
      .set(auth)
      .send({ event: 'report.ready', msgtype: 'file', to: { users: ['zhangsan'] }, data: { fileUrl: `${downstream.url}/report.csv` } });
    expect(file.status).toBe(202);
    await push(h, { MsgType: 'text', Content: 'hello', MsgId: '9001', AgentID: '1000002' });
    await push(h, {
      MsgType: 'event',
      Event: 'change_external_contact',
      ChangeType: 'add_external_contact',
      UserID: 'sales01',
      ExternalUserID: 'wmBounds01',
      State: 'expo2026',
      WelcomeCode: h.sim.issueWelcomeCode(),
    });
    for (const i of [1, 2]) {
      const res = await h.api
        .post('/v1/integrations/alertmanager?users=oncall09')
        .set(auth)
        .send(amPayload({ groupKey: `bounds-${i}`, alerts: [amAlert({ fingerprint: `b${i}`, labels: { alertname: `Bounds${i}` } })] }));
      expect(res.status).toBeLessThan(300);
    }
    const resolved = await h.api
      .post('/v1/integrations/alertmanager?users=oncall09')
      .set(auth)
      .send(
        amPayload({
          groupKey: 'bounds-1',
          status: 'resolved',
          alerts: [amAlert({ status: 'resolved', fingerprint: 'b1', labels: { alertname: 'Bounds1' } })],
        }),
      );
    expect(resolved.body.status).toBe('updated');

    const names = [...h.gateway.queues.keys()].sort();
    expect(names).toEqual([
      'alert-actions',
      'alert-digest',
      'forward-inbound',
      'inbound',
      'media',
      'oncall-handoff',
      'send',
      'status-callbacks',
      'welcome',
      'welcome-tags',
    ]);
    for (const name of names) {
      const jobs = await eventually(async () => {
        const found = await allJobs(h, name);
        return found.length > 0 ? found : undefined;
      });
      for (const job of jobs)
        expect({ queue: name, removeOnComplete: job.opts.removeOnComplete, removeOnFail: job.opts.removeOnFail }).toEqual({
          queue: name,
          ...JOB_RETENTION,
        });
    }
    expect(JOB_RETENTION.removeOnFail.age).toBeLessThanOrEqual(7 * 86_400);
    expect(JOB_RETENTION.removeOnFail.count).toBe(DEAD_LETTERS_KEPT);
  });

  it('when a downstream refuses a delivery, then it is listed as a dead letter within the bound (failed jobs are the dead letters)', async () => {
    const letters = await eventually(async () => {
      const res = await h.api.get('/v1/inbound/dead-letters').set(auth);
      return res.body.deadLetters?.length > 0 ? (res.body.deadLetters as { error: string }[]) : undefined;
    });
    expect(letters[0].error).toContain('HTTP 400');
  });

  it('when a contact sink refuses a change, then its dead letter is sealed at rest (no mobile in Redis), still listed in clear to an admin, and the list keeps the newest 10,000', async () => {
    const dead = h.keys.contacts.sink('default', 'dead');
    // A sink that has refused for a long time: the list is full.
    const filler = Array.from({ length: DEAD_LETTERS_KEPT }, (_, i) =>
      JSON.stringify({
        sink: 'default',
        cursor: '0-0',
        change: { id: `old-${i}` },
        error: 'HTTP 400',
        attempts: 3,
        failedAt: '2026-01-01T00:00:00Z',
      }),
    );
    for (let i = 0; i < filler.length; i += 1_000) await h.redis.rpush(dead, ...filler.slice(i, i + 1_000));

    await push(h, {
      MsgType: 'event',
      Event: 'change_contact',
      ChangeType: 'create_user',
      UserID: 'bounds01',
      Name: 'Bounds One',
      Mobile: '13700001111',
      Email: 'bounds01@example.com',
    });
    const newest = await eventually(async () => {
      const last = await h.redis.lindex(dead, -1);
      return last && !last.includes('old-') ? last : undefined;
    });
    expect(newest.startsWith('gcm1:')).toBe(true);
    expect(newest).not.toContain('13700001111');
    expect(newest).not.toContain('bounds01');
    expect(await h.redis.llen(dead)).toBe(DEAD_LETTERS_KEPT);
    // The oldest went first.
    expect(await h.redis.lindex(dead, 0)).toContain('"old-1"');

    const listed = (await h.api.get('/v1/contacts/dead-letters').set(auth)).body.deadLetters as {
      change: { id: string; after?: { userId?: string } };
    }[];
    expect(listed).toHaveLength(DEAD_LETTERS_KEPT);
    expect(listed[listed.length - 1].change.after).toMatchObject({ userId: 'bounds01' });
  });
});

describe('recipients ceiling', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_API_KEYS: KEY } });
  });
  afterAll(() => h.close());

  it('when a request names more than 10,000 users, parties and tags together, then it is a 400 naming to, and nothing is queued', async () => {
    const users = Array.from({ length: 9_950 }, (_, i) => `user${i}`);
    const parties = Array.from({ length: 51 }, (_, i) => i + 1);
    const res = await h.api
      .post('/v1/messages')
      .set(auth)
      .send(alert({ to: { users, parties } }));
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([{ field: 'to', message: 'at most 10000 users, parties and tags together' }]);
    expect(await h.gateway.queues.get('send')!.count()).toBe(0);
  });

  it('when it names exactly 10,000, then it is accepted and split into WeCom-sized parts', async () => {
    const users = Array.from({ length: 10_000 }, (_, i) => `user${i}`);
    const res = await h.api
      .post('/v1/messages/preview')
      .set(auth)
      .send(alert({ to: { users } }));
    expect(res.status).toBe(200);
    expect(res.body.payloads).toHaveLength(10);
  });
});

describe('/metrics', () => {
  it('when METRICS_TOKEN is set, then /metrics answers only its bearer (401 without it or with another, the token never echoed)', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const h = await startHarness({ env: { GATEWAY_API_KEYS: KEY, METRICS_TOKEN: token } });
    try {
      const none = await h.api.get('/metrics');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toContain('Bearer');
      const wrong = await h.api.get('/metrics').set('Authorization', `Bearer ${token}x`);
      expect(wrong.status).toBe(401);
      expect(wrong.text).not.toContain(token);
      // An API key is not the metrics token.
      expect((await h.api.get('/metrics').set(auth)).status).toBe(401);
      const right = await h.api.get('/metrics').set('Authorization', `Bearer ${token}`);
      expect(right.status).toBe(200);
      expect(right.text).toContain('wecom_gateway_queue_jobs');
    } finally {
      await h.close();
    }
  });

  it('when METRICS_TOKEN is not set, then /metrics stays open to scrapers', async () => {
    const h = await startHarness({ env: { GATEWAY_API_KEYS: KEY } });
    try {
      expect((await h.api.get('/metrics')).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('when /metrics is scraped ten times in a row, then Redis sees the queue gauges read once, not ten times', async () => {
    const redis = await startTestRedis();
    const h = await startHarness({ env: { GATEWAY_API_KEYS: KEY, REDIS_URL: redis.url } });
    // The start-up WeCom check (a token fetch) has run: its commands are not what this test watches, and they would race MONITOR's start.
    await eventually(async () => (await h.api.get('/readyz')).body.wecom?.default === 'ok');
    const monitor = new Redis(redis.url);
    try {
      // The gauges are read on the queues' own connection; count what reaches Redis from it.
      const clients = await monitor.client('LIST');
      const queuesAddr = /addr=(\S+) .*name=wecom-gateway-queues /.exec(String(clients))?.[1];
      expect(queuesAddr).toBeDefined();
      const seen: string[] = [];
      const feed = await monitor.monitor();
      feed.on('monitor', (_time: string, args: string[], source: string) => {
        if (source === queuesAddr) seen.push(args[0]);
      });
      await new Promise((r) => setTimeout(r, 100));

      expect((await h.api.get('/metrics')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      const oneReading = seen.length;
      // At least a call per queue: the reading did go to Redis.
      expect(oneReading).toBeGreaterThanOrEqual(h.gateway.queues.size);
      for (let i = 0; i < 9; i++) expect((await h.api.get('/metrics')).status).toBe(200);
      await Promise.all(Array.from({ length: 5 }, () => h.api.get('/metrics')));
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.slice(oneReading)).toEqual([]);
      feed.disconnect();
    } finally {
      monitor.disconnect();
      await h.close();
      await redis.stop();
    }
  });
});
