import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/gateway';
import { outlastingRedis } from '../../src/queues/settle';
import { RedisUnavailableError } from '../../src/redis/unavailable';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { WecomSimulator } from '../../src/simulator/simulator';
import { alert, eventually, finalStatus, SIM_APP, startTestRedis, testConfig, uniquePrefix, UNLIMITED_SIM } from '../support/harness';
import { encryptedPush, memberTextXml } from '../support/wecom-push';

const KEY = 'frozen-redis-key-0123456789';
const TOKEN = 'frozenToken123';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
/** Long enough to show a hang (the trial saw 25 s and more), short enough for the suite. */
const HANG_CAP_MS = 15_000;

/** A request's status and how long it took; `hung` when it had no answer within HANG_CAP_MS. */
async function timed(send: () => request.Test): Promise<{ status: number | 'hung'; ms: number; body: unknown }> {
  const started = Date.now();
  try {
    const res = await send().timeout(HANG_CAP_MS);
    return { status: res.status, ms: Date.now() - started, body: res.body };
  } catch (error) {
    if ((error as { timeout?: number }).timeout === undefined) throw error;
    return { status: 'hung', ms: Date.now() - started, body: undefined };
  }
}

/** SIGSTOP: the process keeps its sockets open and answers nothing, as a stalled master or a partition without RST. */
describe('when Redis freezes (SIGSTOP: a stalled master, a partition without RST)', () => {
  let redis: Awaited<ReturnType<typeof startTestRedis>>;
  let redisPid: number;
  let sim: WecomSimulator;
  let gateway: Gateway;
  let api: ReturnType<typeof request>;
  let frozen = false;
  const thaw = () => {
    if (frozen) process.kill(redisPid, 'SIGCONT');
    frozen = false;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    const probe = new Redis(redis.url);
    redisPid = Number(/process_id:(\d+)/.exec(await probe.info('server'))![1]);
    await probe.quit();
    sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    // The tests' fast retries (5 ms): a send attempt that meets the stall (or a command connection still reconnecting
    // just after SIGCONT) must wait it out without spending an attempt, or every attempt would be spent in that moment.
    const config = testConfig(sim.url, {
      REDIS_URL: redis.url,
      GATEWAY_API_KEYS: KEY,
      WECOM_CALLBACK_TOKEN: TOKEN,
      WECOM_CALLBACK_AES_KEY: AES_KEY,
    });
    gateway = await createGateway(config, { logger: pino({ level: 'silent' }) });
    api = request(gateway.app);
  });

  afterAll(async () => {
    // Whatever failed above, Redis must run again for the gateway to close and for redis-server to stop.
    thaw();
    await gateway?.close();
    await sim?.stop();
    await redis?.stop();
  });

  const send = (title: string) =>
    api
      .post('/v1/messages')
      .set('Authorization', `Bearer ${KEY}`)
      .send(alert({ data: { title, content: 'c', level: 'info' } }));
  const push = (msgId: string) => {
    const signed = encryptedPush(wecom, SIM_APP.corpId, memberTextXml('hello', msgId));
    return api.post(`/wecom/callback?${signed.query}`).set('content-type', 'text/xml').send(signed.body);
  };

  it('then POST /v1/messages, POST /wecom/callback and GET /readyz answer 503 within seconds, and after SIGCONT the gateway recovers with nothing accepted lost', async () => {
    // Accepted just before the freeze, and WeCom slow to answer: their sends are under way when Redis stops.
    sim.setChaos({ rate: 1, faults: [{ delayMs: 500 }] });
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => send(`before ${i}`)));
    expect(before.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect((await push('7400000000000000001')).status).toBe(200);

    process.kill(redisPid, 'SIGSTOP');
    frozen = true;
    const [message, callback, ready] = await Promise.all([
      timed(() => send('during')),
      timed(() => push('7400000000000000002')),
      timed(() => api.get('/readyz')),
    ]);
    process.stdout.write(
      `frozen redis: POST /v1/messages ${message.status} in ${message.ms} ms, POST ` +
        `/wecom/callback ${callback.status} in ${callback.ms} ms, GET /readyz ${ready.status} in ${ready.ms} ms\n`,
    );
    // A second round, on connections that already met the stall; a wrong key too (the failed-auth throttle counts in Redis).
    const wrongKey = () => api.post('/v1/messages').set('Authorization', 'Bearer wrong-key-0123456789').send(alert());
    const [message2, callback2, ready2, wrong] = await Promise.all([
      timed(() => send('during 2')),
      timed(() => push('7400000000000000003')),
      timed(() => api.get('/readyz')),
      timed(wrongKey),
    ]);
    process.stdout.write(
      `frozen redis, again: POST /v1/messages ${message2.status} in ${message2.ms} ms, POST /wecom/callback ${callback2.status} ` +
        `in ${callback2.ms} ms, GET /readyz ${ready2.status} in ${ready2.ms} ms, a wrong key ${wrong.status} in ${wrong.ms} ms\n`,
    );
    expect(wrong.status).toBe(401);
    expect(wrong.ms).toBeLessThan(5_000);
    for (const answer of [message, callback, ready, message2, callback2, ready2]) {
      expect(answer.status).toBe(503);
      expect(answer.ms).toBeLessThan(5_000);
    }
    expect(message.body).toEqual({ error: expect.objectContaining({ code: 'unavailable' }) });

    // A stall of some seconds: the connections cut at the first deadline keep trying meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    sim.setChaos(undefined);
    thaw();
    const thawed = Date.now();
    const after = await eventually(
      async () => {
        const res = await send('after');
        return res.status === 202 ? (res.body.id as string) : undefined;
      },
      20_000,
      200,
    );
    process.stdout.write(`frozen redis: a message accepted again ${Date.now() - thawed} ms after SIGCONT\n`);
    expect((await finalStatus(api, after, 20_000, KEY)).status).toBe('sent');
    // Nothing accepted before the freeze is lost: each is sent.
    const views = await Promise.all(before.map((r) => finalStatus(api, r.body.id, 30_000, KEY)));
    expect(views.map((v) => v.status)).toEqual(Array(20).fill('sent'));
    // WeCom's retry of the push refused during the freeze is taken: at once, or once the
    // first delivery's pending mark lapses (8 s: its SET may have reached Redis before the stall).
    await eventually(async () => (await push('7400000000000000002')).status === 200, 15_000, 1_000);
    process.stdout.write(`frozen redis: the push refused during the stall was taken ${Date.now() - thawed} ms after SIGCONT\n`);
    expect((await api.get('/readyz')).status).toBe(200);
  }, 120_000);
});

describe('a job whose own steps meet a Redis outage', () => {
  const connection = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  const prefix = uniquePrefix();
  const queue = new Queue('outage', { connection, prefix });
  afterAll(async () => {
    await queue.close();
    await connection.quit();
  });

  it('then it waits the outage out without spending an attempt, and runs again (its one attempt would otherwise be spent)', async () => {
    let runs = 0;
    const processor = async () => {
      runs += 1;
      // The first run meets Redis not answering (a record update, a budget), as just after a stall.
      if (runs === 1) throw new RedisUnavailableError(new Error('Command timed out'));
    };
    const blocking = connection.duplicate();
    const worker = new Worker('outage', outlastingRedis(processor), { connection: blocking, prefix });
    try {
      const job = await queue.add('x', {}, { attempts: 1 });
      await eventually(async () => (await job.isCompleted()) || undefined, 10_000);
      expect(runs).toBe(2);
      expect((await queue.getJob(job.id!))!.attemptsMade).toBeLessThanOrEqual(1);
    } finally {
      await worker.close();
      await blocking.quit();
    }
  });
});
