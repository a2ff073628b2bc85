import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alert, finalStatus, startHarness, TEMPLATES_DIR, type Harness } from '../support/harness';

describe('DELETE /v1/messages/{id} (recall)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('when a sent message is recalled, then WeCom recalls its msgid and the status is recalled', async () => {
    const res = await h.api.post('/v1/messages').send(alert());
    const sent = await finalStatus(h.api, res.body.id);
    const recalled = await h.api.delete(`/v1/messages/${res.body.id}`);
    expect(recalled.status).toBe(200);
    expect(recalled.body).toMatchObject({ id: res.body.id, status: 'recalled', recall: [{ part: 0, to: 'members', outcome: 'recalled' }] });
    expect(h.sim.sent.find((m) => m.msgid === sent.msgid)?.recalled).toBe(true);
    expect((await h.api.get(`/v1/messages/${res.body.id}`)).body.status).toBe('recalled');
  });

  it('when a message still waiting is recalled, then it is cancelled and never sent', async () => {
    const worker = h.gateway.workers.find((w) => w.name === 'send')!;
    await worker.pause();
    const res = await h.api.post('/v1/messages').send(alert({ data: { title: 'never', content: 'c', level: 'info' } }));
    const recalled = await h.api.delete(`/v1/messages/${res.body.id}`);
    await worker.resume();
    expect(recalled.body.status).toBe('recalled');
    expect(recalled.body.recall).toEqual([{ part: 0, to: 'members', outcome: 'cancelled' }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sim.sent.some((m) => JSON.stringify(m.body).includes('never'))).toBe(false);
  });

  it('when a message that failed is recalled, then its part says nothing was delivered', async () => {
    h.sim.failNext(1, { errcode: 81013, errmsg: 'user, party and tag are all invalid' });
    const res = await h.api.post('/v1/messages').send(alert());
    expect((await finalStatus(h.api, res.body.id)).status).toBe('failed');
    const recalled = await h.api.delete(`/v1/messages/${res.body.id}`);
    expect(recalled.body).toMatchObject({
      status: 'failed',
      recall: [{ part: 0, to: 'members', outcome: 'not_sent', reason: expect.stringContaining('nothing was delivered') }],
    });
  });

  it('when the id is unknown, then 404; when the message is older than 24 hours, then 409 with the reason', async () => {
    expect((await h.api.delete('/v1/messages/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    const res = await h.api.post('/v1/messages').send(alert());
    await finalStatus(h.api, res.body.id);
    await h.redis.hset(h.keys.message(res.body.id), 'createdAt', String(Date.now() - 25 * 3_600_000));
    const old = await h.api.delete(`/v1/messages/${res.body.id}`);
    expect(old.status).toBe(409);
    expect(old.body.error.message).toMatch(/24 hours/);
  });
});

describe('DELETE /v1/messages/{id} of what WeCom cannot recall (group robots)', () => {
  const ROBOT_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5c0a1';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { WECOM_ROBOTS: `ops=${ROBOT_KEY}` }, simulator: { robotKeys: [ROBOT_KEY] } });
  });
  afterAll(() => h.close());

  it('when a message only to a robot is recalled, then the answer says nothing was recalled, and why, and its status stays sent', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ to: { robots: ['ops'] } }));
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    const recalled = await h.api.delete(`/v1/messages/${res.body.id}`);
    expect(recalled.status).toBe(200);
    expect(recalled.body).toMatchObject({ id: res.body.id, status: 'sent' });
    expect(recalled.body.recall).toEqual([
      { part: 0, to: 'robot ops', outcome: 'not_recallable', reason: expect.stringMatching(/^robot messages cannot be recalled/) },
    ]);
    expect((await h.api.get(`/v1/messages/${res.body.id}`)).body.status).toBe('sent');
  });

  it('when a message to members and a robot is recalled, then each part says what became of it', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ to: { users: ['zhangsan'], robots: ['ops'] } }));
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    const recalled = await h.api.delete(`/v1/messages/${res.body.id}`);
    expect(recalled.status).toBe(200);
    expect(recalled.body.recall).toEqual([
      { part: 0, to: 'members', outcome: 'recalled' },
      { part: 1, to: 'robot ops', outcome: 'not_recallable', reason: expect.stringMatching(/^robot messages cannot be recalled/) },
    ]);
    // Asked again: nothing left to take back, and it says so.
    const again = await h.api.delete(`/v1/messages/${res.body.id}`);
    expect(again.body.recall.map((p: { outcome: string }) => p.outcome)).toEqual(['already_recalled', 'not_recallable']);
  });
});

describe('status callbacks (callbackUrl)', () => {
  const SECRET = 'status-secret-0123456789';
  let h: Harness;
  let receiver: import('node:http').Server;
  let received: { body: Record<string, unknown>; signature?: string; timestamp?: string; raw: string }[] = [];
  let down = false;
  let url = '';
  let templatesDir = '';

  beforeAll(async () => {
    const { createServer } = await import('node:http');
    receiver = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        if (down) return void res.writeHead(503).end();
        received.push({
          body: JSON.parse(raw),
          signature: req.headers['x-gateway-signature'] as string,
          timestamp: req.headers['x-gateway-timestamp'] as string,
          raw,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/status`;
    // An event whose definition names a default callbackUrl.
    templatesDir = mkdtempSync(join(tmpdir(), 'wgw-callback-'));
    cpSync(TEMPLATES_DIR, templatesDir, { recursive: true });
    writeFileSync(
      join(templatesDir, 'batch.done.yaml'),
      `event: batch.done\ncallbackUrl: ${url}\ndata:\n  job: {}\nmsgtypes:\n  text:\n    content: "{{job}} done"\n`,
    );
    h = await startHarness({ env: { STATUS_CALLBACK_SECRET: SECRET, TEMPLATES_DIR: templatesDir, EGRESS_ALLOW: '127.0.0.1' } });
  });
  afterAll(async () => {
    await h.close();
    rmSync(templatesDir, { recursive: true, force: true });
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  it('when a message with a callbackUrl is sent or fails, then the final status is POSTed there, signed', async () => {
    const { signWebhook } = await import('../../src/webhooks/webhook-outbox');
    const ok = await h.api.post('/v1/messages').send(alert({ callbackUrl: url }));
    await finalStatus(h.api, ok.body.id);
    h.sim.failNext(1, { errcode: 81013 });
    const bad = await h.api.post('/v1/messages').send(alert({ callbackUrl: url, data: { title: 'nobody', content: 'c', level: 'info' } }));
    const { eventually } = await import('../support/harness');
    await eventually(() => received.length >= 2 || undefined);
    const byId = Object.fromEntries(received.map((r) => [r.body.id, r]));
    expect(byId[ok.body.id].body).toMatchObject({ status: 'sent', msgid: expect.any(String) });
    expect(byId[bad.body.id].body).toMatchObject({ status: 'failed', error: { errcode: 81013 } });
    for (const r of received) expect(r.signature).toBe(signWebhook(SECRET, r.timestamp!, r.raw));
  });

  it('when the receiver is down, then sending is not held up and the callback is retried until it is back', async () => {
    received = [];
    down = true;
    const res = await h.api.post('/v1/messages').send(alert({ callbackUrl: url, data: { title: 'later', content: 'c', level: 'info' } }));
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    await new Promise((r) => setTimeout(r, 100));
    down = false;
    const { eventually } = await import('../support/harness');
    await eventually(() => received.some((r) => r.body.id === res.body.id) || undefined, 15_000);
  });

  it('when the event definition names a callbackUrl, then its messages report there without asking', async () => {
    const res = await h.api.post('/v1/messages').send({ event: 'batch.done', to: { users: ['zhangsan'] }, data: { job: 'nightly' } });
    expect(res.status).toBe(202);
    const { eventually } = await import('../support/harness');
    const report = await eventually(() => received.find((r) => r.body.id === res.body.id), 15_000);
    expect(report.body).toMatchObject({ status: 'sent', event: 'batch.done' });
  });

  it('when callbackUrl is not http(s), then 400 names it', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ callbackUrl: 'ftp://example.com/x' }));
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].field).toBe('callbackUrl');
  });
});
