import { Redis } from 'ioredis';
import { redisKeys } from '../../src/redis/keys';
import { sendMessage } from '../../src/wecom/endpoints/message';
import { WecomSimulator } from '../../src/simulator/simulator';
import { TokenStore } from '../../src/wecom/token-store';
import { WecomTransport } from '../../src/wecom/transport';
import { WecomApi } from '../../src/wecom/wecom-api';
import { SIM_APP, UNLIMITED_SIM, uniquePrefix } from '../support/harness';

describe('the access_token each process reuses', () => {
  it('when WeCom revokes the token two instances hold, then one gettoken replaces it and each instance sends again after one refused call', async () => {
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    const redis = new Redis(process.env.TEST_REDIS_URL!);
    const client = new WecomTransport({ apiBase: sim.url, timeoutMs: 2_000 });
    const keys = redisKeys(uniquePrefix());
    const app = { name: 'default', ...SIM_APP };
    const [a, b] = [
      new WecomApi(client, new TokenStore(redis, client, { keys })),
      new WecomApi(client, new TokenStore(redis, client, { keys })),
    ];
    const payload = { touser: 'zhangsan', msgtype: 'text', agentid: SIM_APP.agentId, text: { content: 'hi' } };
    try {
      expect((await a.call(app, sendMessage(payload))).kind).toBe('ok');
      expect((await b.call(app, sendMessage(payload))).kind).toBe('ok');
      expect(sim.gettokenCount()).toBe(1);
      sim.revokeTokens();
      // Both still hold the revoked token in memory: each meets one 40014, then A fetches and B reads A's from Redis.
      expect((await a.call(app, sendMessage(payload))).kind).toBe('ok');
      expect((await b.call(app, sendMessage(payload))).kind).toBe('ok');
      expect(sim.gettokenCount()).toBe(2);
      const refused = sim.calls.filter((c) => c.api === 'message/send' && c.errcode === 40014);
      expect(refused).toHaveLength(2);
    } finally {
      await client.close();
      await redis.quit();
      await sim.stop();
    }
  });
});
