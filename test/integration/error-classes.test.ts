import pino from 'pino';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/gateway';
import { ReplyError } from 'ioredis';
import { createRedis, waitUntilReady } from '../../src/redis/connection';
import { freePort } from '../../src/redis/embedded-redis';
import { RedisUnavailableError } from '../../src/redis/unavailable';
import { alert, startHarness, testConfig, type Harness } from '../support/harness';

/** `depth` arrays inside one another: `[[[…"deep"…]]]`, as JSON text (a body parser reads it; building it as an object costs nothing). */
const nested = (depth: number) => `${'['.repeat(depth)}"deep"${']'.repeat(depth)}`;
/** A send request whose data field `field` (one the template renders, or one it ignores) holds `depth` nested arrays. */
const deepBody = (depth: number, field = 'labels') =>
  `{"event":"program.alert","msgtype":"text","to":{"users":["zhangsan"]},` +
  `"data":{"title":"t","content":"c","level":"info","${field}":${nested(depth)}}}`;

describe('errors are told apart by what failed, not by their text', () => {
  describe("a command connection's failures", () => {
    it('when Redis answers an error of the command (WRONGTYPE), then it stays that reply error; when Redis is not there, then it is a RedisUnavailableError', async () => {
      const config = testConfig('http://127.0.0.1:9').redis;
      const redis = createRedis(config, 'command');
      const absent = createRedis({ ...config, url: `redis://127.0.0.1:${await freePort()}` }, 'command');
      try {
        await waitUntilReady(redis);
        await redis.set(`${config.prefix}:string`, 'x');
        const wrongType = await redis.hget(`${config.prefix}:string`, 'field').catch((error: unknown) => error);
        expect(wrongType).toBeInstanceOf(ReplyError);
        expect(wrongType).not.toBeInstanceOf(RedisUnavailableError);
        const away = await absent.get('anything').catch((error: unknown) => error);
        expect(away).toBeInstanceOf(RedisUnavailableError);
        // ioredis' own words stay: libraries on the connection (BullMQ) read them.
        expect((away as Error).message).toBe("Stream isn't writeable and enableOfflineQueue options is false");
      } finally {
        redis.disconnect();
        absent.disconnect();
      }
    });
  });

  describe('when WeCom refuses connections (ECONNREFUSED)', () => {
    let gateway: Gateway;
    beforeAll(async () => {
      // Nothing listens there: every WeCom call meets ECONNREFUSED.
      const closed = `http://127.0.0.1:${await freePort()}`;
      gateway = await createGateway(testConfig(closed), { logger: pino({ level: 'silent' }) });
    });
    afterAll(() => gateway.close());

    it('then a route that asks WeCom answers that WeCom did not answer, never that Redis is unreachable', async () => {
      const res = await request(gateway.app)
        .post('/v1/chats')
        .send({ name: 'oncall', users: ['zhangsan', 'lisi'] });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('wecom_unavailable');
      expect(res.body.error.message).toMatch(/ECONNREFUSED/);
      expect(res.body.error.message).not.toMatch(/Redis/);
    });
  });

  describe('when data is nested 5,000 deep', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
    });
    afterAll(() => h.close());

    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      h.api
        .post(path)
        .set({ 'content-type': 'application/json', ...headers })
        .send(body);

    it.each([
      ['POST /v1/messages', '/v1/messages', {}, 'labels'],
      ['POST /v1/messages with an Idempotency-Key', '/v1/messages', { 'Idempotency-Key': 'deep-1' }, 'labels'],
      ['POST /v1/messages/preview', '/v1/messages/preview', {}, 'labels'],
      ['POST /v1/messages (a field the template renders)', '/v1/messages', {}, 'content'],
      ['POST /v1/messages/preview (a field the template renders)', '/v1/messages/preview', {}, 'content'],
    ])('then %s answers 422 naming the field, not 503 or 500', async (_name, path, headers, field) => {
      const res = await post(path, deepBody(5_000, field), headers);
      expect(res.status).toBe(422);
      expect(res.body.error.fields).toEqual([{ field: `data.${field}`, message: expect.stringMatching(/nested deeper than \d+ levels/) }]);
      expect(res.body.error.message).not.toMatch(/Redis/);
    });

    it('then data nested as deep as templates use is still accepted', async () => {
      const res = await post('/v1/messages', deepBody(20));
      expect(res.status).toBe(202);
      expect((await h.api.post('/v1/messages').send(alert())).status).toBe(202);
    });
  });
});
