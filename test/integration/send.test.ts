import { MessageStore } from '../../src/messages/message-store';
import { alert, eventually, finalStatus, startHarness, type Harness } from '../support/harness';

describe('POST /v1/messages -> WeCom message/send', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      simulator: { directory: { users: Array.from({ length: 3000 }, (_, i) => `user${i}`).concat(['zhangsan', 'lisi']) } },
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('when a program.alert is posted, then it is accepted with 202 and reaches sent with the WeCom msgid', async () => {
    const res = await h.api.post('/v1/messages').send(
      alert({
        msgtype: 'textcard',
        data: { title: 'Disk 95%', content: 'db1 /var', level: 'critical', url: 'https://grafana.example/d/1' },
      }),
    );
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), status: 'queued' });
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({ id: res.body.id, status: 'sent', attempts: 1, msgid: h.sim.sent[0].msgid });
    expect(h.sim.sent).toHaveLength(1);
    expect(h.sim.sent[0].body).toMatchObject({
      touser: 'zhangsan',
      msgtype: 'textcard',
      agentid: 1000002,
      enable_duplicate_check: 1,
      textcard: { title: '[CRITICAL] Disk 95%', url: 'https://grafana.example/d/1', btntxt: '详情' },
    });
  });

  it('when 50 messages are sent at once, then they share one gettoken', async () => {
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.api
          .post('/v1/messages')
          .send(alert({ data: { title: `t${i}`, content: 'c', level: 'info' } }))
          .then((r) => r.body.id as string),
      ),
    );
    await Promise.all(ids.map((id) => finalStatus(h.api, id)));
    expect(h.sim.sent).toHaveLength(50);
    // reset() made the simulator forget the cached token: exactly one refresh serves all 50.
    expect(h.sim.gettokenCount()).toBe(1);
  });

  it('when WeCom expires the token, then one refresh happens and the message is still sent', async () => {
    const first = await h.api.post('/v1/messages').send(alert());
    await finalStatus(h.api, first.body.id);
    const fetchedBefore = h.sim.gettokenCount();
    h.sim.expireTokens();
    const ids = await Promise.all(
      Array.from({ length: 5 }, () =>
        h.api
          .post('/v1/messages')
          .send(alert())
          .then((r) => r.body.id as string),
      ),
    );
    const views = await Promise.all(ids.map((id) => finalStatus(h.api, id)));
    expect(views.map((v) => v.status)).toEqual(Array(5).fill('sent'));
    expect(h.sim.gettokenCount() - fetchedBefore).toBe(1);
    expect(h.sim.calls.some((c) => c.errcode === 42001)).toBe(true);
  });

  it('when WeCom answers -1 three times, then the message is sent on the 4th attempt', async () => {
    h.sim.failNext(3, { errcode: -1, errmsg: 'system busy' });
    const res = await h.api.post('/v1/messages').send(alert());
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({ status: 'sent', attempts: 4 });
    expect(h.sim.sent).toHaveLength(1);
  });

  it('when WeCom answers -1 four times, then the message fails with errcode -1 after 4 attempts', async () => {
    h.sim.failNext(4, { errcode: -1, errmsg: 'system busy' });
    const res = await h.api.post('/v1/messages').send(alert());
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({ status: 'failed', attempts: 4, error: { errcode: -1, errmsg: expect.stringContaining('system busy') } });
    expect(h.sim.sent).toHaveLength(0);
  });

  it('when a retry is under way, then the status still shows the error that made it retry (WeCom unreachable is not a silent "sending")', async () => {
    h.sim.failNext(1, { httpStatus: 502 });
    h.sim.failNext(1, { delayMs: 1_500 }); // the retry hangs as a call to an unreachable WeCom does
    const res = await h.api.post('/v1/messages').send(alert());
    const during = await eventually(async () => {
      const view = (await h.api.get(`/v1/messages/${res.body.id}`)).body;
      return view.status === 'sending' && view.attempts === 2 ? view : undefined;
    });
    expect(during.error).toMatchObject({ errcode: -2, errmsg: expect.stringContaining('HTTP 502') });
    expect(await finalStatus(h.api, res.body.id)).toMatchObject({ status: 'sent', attempts: 2 });
    expect((await h.api.get(`/v1/messages/${res.body.id}`)).body.error).toBeUndefined();
  });

  it('when WeCom answers HTTP 502 once, then the send is retried and succeeds', async () => {
    h.sim.failNext(1, { httpStatus: 502 });
    const res = await h.api.post('/v1/messages').send(alert());
    expect(await finalStatus(h.api, res.body.id)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('when WeCom answers a permanent errcode, then the message fails after one attempt with a hint', async () => {
    h.sim.failNext(1, { errcode: 60020, errmsg: 'not allow to access from your ip, from ip: 203.0.113.7' });
    const res = await h.api.post('/v1/messages').send(alert());
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { errcode: 60020, hint: expect.stringContaining('add 203.0.113.7 to the app') },
    });
    expect(h.sim.calls.filter((c) => c.api === 'message/send')).toHaveLength(1);
  });

  it('when some recipients are unknown, then the message is sent and the invalid ones are reported', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ to: { users: ['zhangsan', 'ghost'] } }));
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({ status: 'sent', invalid: { users: ['ghost'] } });
  });

  it('when 2500 users are addressed, then WeCom gets 3 sends under one message id', async () => {
    const users = Array.from({ length: 2500 }, (_, i) => `user${i}`);
    const res = await h.api.post('/v1/messages').send(alert({ to: { users } }));
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({ status: 'sent', parts: 3 });
    expect(view.msgids).toHaveLength(3);
    expect(h.sim.sent.map((m) => m.touser.length).sort()).toEqual([1000, 1000, 500].sort());
    expect(new Set(h.sim.sent.flatMap((m) => m.touser)).size).toBe(2500);
  });

  it('when the same idempotency key is posted twice (body or header), then the first id is answered and one message is sent', async () => {
    const a = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-42' }));
    const b = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-42' }));
    const c = await h.api.post('/v1/messages').set('Idempotency-Key', 'order-43').send(alert());
    const d = await h.api.post('/v1/messages').set('Idempotency-Key', 'order-43').send(alert());
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
    expect(d.body.id).toBe(c.body.id);
    expect(c.body.id).not.toBe(a.body.id);
    await finalStatus(h.api, a.body.id);
    await finalStatus(h.api, c.body.id);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.sim.sent).toHaveLength(2);
  });

  it('when a key is repeated after its message was sent or recalled, then the repeat answers that status, not queued', async () => {
    const first = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-44' }));
    expect(first.body.status).toBe('queued');
    await finalStatus(h.api, first.body.id);
    const afterSend = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-44' }));
    expect(afterSend.body).toEqual({ id: first.body.id, status: 'sent' });
    expect((await h.api.delete(`/v1/messages/${first.body.id}`)).status).toBe(200);
    const afterRecall = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-44' }));
    expect(afterRecall.body).toEqual({ id: first.body.id, status: 'recalled' });
  });

  it('when an idempotency key is reused with a different body, then 422 idempotency_key_reused names the key and nothing more is sent', async () => {
    const first = await h.api.post('/v1/messages').set('Idempotency-Key', 'order-45').send(alert());
    expect(first.status).toBe(202);
    const changed = await h.api
      .post('/v1/messages')
      .set('Idempotency-Key', 'order-45')
      .send(alert({ data: { title: 'another alert', content: 'c', level: 'info' } }));
    expect(changed.status).toBe(422);
    expect(changed.body.error).toMatchObject({
      code: 'idempotency_key_reused',
      message: expect.stringContaining(first.body.id),
      fields: [{ field: 'Idempotency-Key', message: expect.any(String) }],
    });
    // The body field is the same key: the field it came in is named.
    const inBody = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-45', to: { users: ['lisi'] } }));
    expect([inBody.status, inBody.body.error.fields[0].field]).toEqual([422, 'idempotencyKey']);
    await finalStatus(h.api, first.body.id);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.sim.sent).toHaveLength(1);
  });

  it('when the same request comes again with its keys in another order (header or body key), then it is the same body: the first id', async () => {
    const body = alert();
    const first = await h.api.post('/v1/messages').set('Idempotency-Key', 'order-46').send(body);
    // The same JSON, written differently: keys reordered, the key moved into the body, a party as a number instead of a string.
    const reordered = {
      data: { level: 'critical', content: body.data.content, title: body.data.title },
      to: body.to,
      msgtype: 'text',
      event: 'program.alert',
      idempotencyKey: 'order-46',
    };
    const again = await h.api
      .post('/v1/messages')
      .set('content-type', 'application/json')
      .send(JSON.stringify(reordered, null, 2));
    expect([again.status, again.body.id]).toEqual([202, first.body.id]);
    const parties = await h.api
      .post('/v1/messages')
      .set('Idempotency-Key', 'order-47')
      .send(alert({ to: { parties: [2] } }));
    const partiesAgain = await h.api
      .post('/v1/messages')
      .set('Idempotency-Key', 'order-47')
      .send(alert({ to: { parties: ['2'] } }));
    expect([partiesAgain.status, partiesAgain.body.id]).toEqual([202, parties.body.id]);
  });

  it('when the first request died between persisting and queueing, then a repeat of its idempotency key sends it after all', async () => {
    // The record and the key as the first request left them, without its job (a crash in between).
    const { created } = await new MessageStore(h.redis, { keys: h.keys, retentionSeconds: 3600 }).create(
      {
        id: '00000000-0000-4000-8000-000000000042',
        event: 'program.alert',
        msgtype: 'text',
        app: 'default',
        parts: 1,
        createdAt: Date.now(),
      },
      'order-crashed',
    );
    expect(created).toBe(true);
    const repeat = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-crashed' }));
    expect(repeat.body.id).toBe('00000000-0000-4000-8000-000000000042');
    expect((await finalStatus(h.api, repeat.body.id)).status).toBe('sent');
    const again = await h.api.post('/v1/messages').send(alert({ idempotencyKey: 'order-crashed' }));
    expect(again.body.id).toBe(repeat.body.id);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.sim.sent.filter((m) => JSON.stringify(m.body).includes('Disk'))).toHaveLength(1);
  });

  it('when a file is given as base64, then it is uploaded once and sent by media_id', async () => {
    const fileBase64 = Buffer.from('id,value\n1,42\n').toString('base64');
    const send = () =>
      h.api
        .post('/v1/messages')
        .send({ event: 'report.ready', msgtype: 'file', to: { users: ['lisi'] }, data: { fileBase64, filename: 'report.csv' } });
    const first = await send();
    const second = await send();
    expect(await finalStatus(h.api, first.body.id)).toMatchObject({ status: 'sent' });
    expect(await finalStatus(h.api, second.body.id)).toMatchObject({ status: 'sent' });
    expect(h.sim.calls.filter((c) => c.api === 'media/upload' && c.errcode === 0)).toHaveLength(1);
    expect(h.sim.sent[0].body).toMatchObject({ msgtype: 'file', file: { media_id: expect.any(String) } });
  });

  it('when news articles come from a data list, then one article per element is sent', async () => {
    const reports = [
      { title: 'Sales', summary: 'Q3', url: 'https://bi.example/sales' },
      { title: 'Ops', summary: 'uptime', url: 'https://bi.example/ops' },
    ];
    const res = await h.api.post('/v1/messages').send({ event: 'report.ready', to: { users: ['lisi'] }, data: { reports } });
    expect(await finalStatus(h.api, res.body.id)).toMatchObject({ status: 'sent' });
    expect((h.sim.sent[0].body.news as { articles: unknown[] }).articles).toEqual([
      expect.objectContaining({ title: 'Sales', description: 'Q3', url: 'https://bi.example/sales' }),
      expect.objectContaining({ title: 'Ops', description: 'uptime', url: 'https://bi.example/ops' }),
    ]);
  });
});

describe('GET /v1/messages/{id}', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('when the id is unknown, then 404', async () => {
    expect((await h.api.get('/v1/messages/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await h.api.get('/v1/messages/not-an-id')).status).toBe(404);
  });

  it('when a message is accepted, then it is readable at once as queued or later', async () => {
    const res = await h.api.post('/v1/messages').send(alert());
    const view = await h.api.get(`/v1/messages/${res.body.id}`);
    expect(view.status).toBe(200);
    expect(['queued', 'sending', 'sent']).toContain(view.body.status);
    await eventually(async () => (await h.api.get(`/v1/messages/${res.body.id}`)).body.status === 'sent');
  });
});
