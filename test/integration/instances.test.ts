import pino from 'pino';
import request from 'supertest';
import { createGateway } from '../../src/gateway';
import { WecomSimulator } from '../../src/simulator/simulator';
import { alert, finalStatus, testConfig, UNLIMITED_SIM } from '../support/harness';

describe('three gateway instances on one Redis', () => {
  it('when all three send at once, then WeCom sees exactly one gettoken and every message is sent once', async () => {
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM });
    const config = testConfig(sim.url); // same prefix for both: they share tokens, records and queues
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => createGateway(config, { logger: pino({ level: 'silent' }) })));
    try {
      const posts = Array.from({ length: 40 }, (_, i) =>
        request([a, b, c][i % 3].app)
          .post('/v1/messages')
          .send(alert({ data: { title: `m${i}`, content: 'c', level: 'info' } })),
      );
      const ids = (await Promise.all(posts)).map((r) => r.body.id as string);
      const views = await Promise.all(ids.map((id, i) => finalStatus(request((i % 3 ? b : a).app), id)));
      expect(views.every((v) => v.status === 'sent')).toBe(true);
      expect(sim.gettokenCount()).toBe(1);
      expect(sim.sent).toHaveLength(40);
      expect(new Set(sim.sent.map((m) => (m.body.text as { content: string }).content)).size).toBe(40);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
      await sim.stop();
    }
  });
});

describe('two gateway instances and a 45009', () => {
  it('when one instance is told 45009, then the other pauses too, and every message is sent afterwards', async () => {
    // One send at a time per instance, 30 ms each: without a shared pause the other instance keeps sending.
    const sim = await WecomSimulator.start({ ...UNLIMITED_SIM, latencyMs: 30 });
    const base = testConfig(sim.url);
    const config = { ...base, send: { ...base.send, throttleMs: 1_500, concurrency: 1 } };
    const [a, b] = await Promise.all([0, 1].map(() => createGateway(config, { logger: pino({ level: 'silent' }) })));
    try {
      sim.failNext(1, { errcode: 45009, errmsg: 'api freq out of limit' });
      const posts = Array.from({ length: 20 }, (_, i) =>
        request([a, b][i % 2].app)
          .post('/v1/messages')
          .send(alert({ data: { title: `p${i}`, content: 'c', level: 'info' } })),
      );
      const ids = (await Promise.all(posts)).map((r) => r.body.id as string);
      const views = await Promise.all(ids.map((id) => finalStatus(request(a.app), id, 20_000)));
      expect(views.every((v) => v.status === 'sent')).toBe(true);
      const blockedAt = sim.calls.find((c) => c.errcode === 45009)!.at;
      // Sends already on their way may land just after the 45009; nothing starts during the pause.
      const duringPause = sim.calls.filter(
        (c) => c.api === 'message/send' && c.errcode === 0 && c.at > blockedAt + 200 && c.at < blockedAt + 1_300,
      );
      expect(duringPause).toEqual([]);
      expect(sim.sent).toHaveLength(20);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await sim.stop();
    }
  });
});
