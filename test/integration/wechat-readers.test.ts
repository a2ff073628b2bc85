import { finalStatus, startHarness, type Harness } from '../support/harness';

describe('members who read through the WeChat plugin', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: (c) => ({ ...c, wechatReaders: { users: ['wx01'], parties: ['9'] } }) });
  });
  afterAll(() => h.close());

  it('when a markdown message goes to readers and others, then the readers get the text form and the others markdown, under one id', async () => {
    const body = {
      event: 'deploy.finished',
      msgtype: 'markdown',
      to: { users: ['dev01', 'wx01'], parties: [9, 4] },
      data: { service: 'api', version: '1.4.2', environment: 'prod', status: 'succeeded' },
    };
    const preview = await h.api.post('/v1/messages/preview').send(body);
    expect(preview.body.payloads.map((p: { msgtype: string }) => p.msgtype).sort()).toEqual(['markdown', 'text']);
    const res = await h.api.post('/v1/messages').send(body);
    const view = await finalStatus(h.api, res.body.id);
    expect(view).toMatchObject({ status: 'sent', parts: 2, msgtype: 'markdown' });
    const text = h.sim.sent.find((m) => m.msgtype === 'text')!;
    const markdown = h.sim.sent.find((m) => m.msgtype === 'markdown')!;
    expect(text).toMatchObject({ touser: ['wx01'], toparty: ['9'] });
    expect((text.body.text as { content: string }).content).toBe('api 1.4.2 -> prod: succeeded');
    expect(markdown).toMatchObject({ touser: ['dev01'], toparty: ['4'] });
  });

  it('when nobody is a reader, then one markdown send goes out', async () => {
    const preview = await h.api.post('/v1/messages/preview').send({
      event: 'deploy.finished',
      to: { users: ['dev02'] },
      data: { service: 'api', version: '1', environment: 'prod', status: 'failed' },
    });
    expect(preview.body.payloads).toHaveLength(1);
    expect(preview.body.payloads[0].msgtype).toBe('markdown');
  });
});
