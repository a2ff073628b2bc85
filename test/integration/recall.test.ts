import { alert, finalStatus, startHarness, type Harness } from '../support/harness';

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
    expect(recalled.body).toMatchObject({ id: res.body.id, status: 'recalled' });
    expect(h.sim.sent.find((m) => m.msgid === sent.msgid)?.recalled).toBe(true);
    expect((await h.api.get(`/v1/messages/${res.body.id}`)).body.status).toBe('recalled');
  });

  it('when a message still waiting is recalled, then it is cancelled and never sent', async () => {
    const worker = h.gateway.workers.find((w) => w.name === 'send')!;
    await worker.pause();
    const res = await h.api.post('/v1/messages').send(alert({ data: { title: 'never', content: 'c', level: 'info' } }));
    const recalled = await h.api.delete(`/v1/messages/${res.body.id}`);
    worker.resume();
    expect(recalled.body.status).toBe('recalled');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sim.sent.some((m) => JSON.stringify(m.body).includes('never'))).toBe(false);
  });

  it('when the id is unknown, then 404; when the message is older than 24 hours, then 409 with the reason', async () => {
    expect((await h.api.delete('/v1/messages/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    const res = await h.api.post('/v1/messages').send(alert());
    await finalStatus(h.api, res.body.id);
    const prefix = h.gateway.config.redis.prefix;
    await h.gateway.redis.hset(`${prefix}:msg:{${res.body.id}}`, 'createdAt', String(Date.now() - 25 * 3_600_000));
    const old = await h.api.delete(`/v1/messages/${res.body.id}`);
    expect(old.status).toBe(409);
    expect(old.body.error.message).toMatch(/24 hours/);
  });
});
