import { createHash } from 'node:crypto';
import type { ApiKey } from '../../src/http/auth';
import { eventually, startHarness, type Harness } from '../support/harness';

/** webhook/send and webhook/upload_media answered by the gateway: a tool's robot URL points at the gateway with an alias. */

const OPS_KEY = '5c1d0c2e-0a51-4a57-9f0b-3c8e1f2a7b01';
const DEV_KEY = '5c1d0c2e-0a51-4a57-9f0b-3c8e1f2a7b02';
const SENDER = 'robot-sender-key-0123456789';
const OPS_ONLY = 'ops-only-key-0123456789abc';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const KEYS: ApiKey[] = [
  { id: 'sender', key: SENDER, permissions: new Set(['send', 'read']) },
  { id: 'opsonly', key: OPS_ONLY, permissions: new Set(['send']), scope: { robots: ['ops'], allowAll: false } },
];

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    env: { WECOM_ROBOTS: `ops=${OPS_KEY},dev=${DEV_KEY}`, API_RATE_LIMIT_PER_MINUTE: '0' },
    simulator: { robotKeys: [OPS_KEY, DEV_KEY] },
    config: (c) => ({ ...c, apiKeys: KEYS }),
  });
});
afterAll(() => h.close());
beforeEach(() => h.sim.reset());

const post = (query: string, body: unknown) => h.api.post(`/cgi-bin/webhook/send?${query}`).send(body as object);

describe('POST /cgi-bin/webhook/send?key=K&robot=R', () => {
  it('when a tool posts text with mentions and then markdown, then the robot gets both, in order, and each answer is ok', async () => {
    const first = await post(`key=${SENDER}&robot=ops`, {
      msgtype: 'text',
      text: { content: 'disk full on db1', mentioned_list: ['zhangsan'], mentioned_mobile_list: ['13800000000'] },
    });
    const second = await post(`key=${SENDER}&robot=ops`, { msgtype: 'markdown', markdown: { content: '**resolved** db1' } });
    expect([first.status, first.body, second.body]).toEqual([200, { errcode: 0, errmsg: 'ok' }, { errcode: 0, errmsg: 'ok' }]);
    await eventually(() => h.sim.robotSent.length === 2);
    expect(h.sim.robotSent.map((m) => ({ msgtype: m.msgtype, [m.msgtype]: m.body, key: m.key }))).toEqual([
      {
        msgtype: 'text',
        text: { content: 'disk full on db1', mentioned_list: ['zhangsan'], mentioned_mobile_list: ['13800000000'] },
        key: OPS_KEY,
      },
      { msgtype: 'markdown', markdown: { content: '**resolved** db1' }, key: OPS_KEY },
    ]);
    const listed = await h.api.get('/v1/messages?limit=5').set('Authorization', `Bearer ${SENDER}`);
    expect(listed.body.messages.map((m: { event: string }) => m.event)).toContain('wecom.robot');
  });

  it('when an image comes as base64 and md5, then it goes as it is', async () => {
    const image = { base64: PNG.toString('base64'), md5: createHash('md5').update(PNG).digest('hex') };
    expect((await post(`key=${SENDER}&robot=dev`, { msgtype: 'image', image })).body.errcode).toBe(0);
    await eventually(() => h.sim.robotSent.length === 1);
    expect(h.sim.robotSent[0]).toMatchObject({ key: DEV_KEY, msgtype: 'image', body: image });
  });

  it('when the key is wrong or missing, the robot unknown or outside the key scope, then 93000 naming no key', async () => {
    const text = { msgtype: 'text', text: { content: 'x' } };
    const answers = [
      await post(`key=not-a-gateway-key-000000&robot=ops`, text),
      await post(`robot=ops`, text),
      await post(`key=${SENDER}&robot=nosuch`, text),
      await post(`key=${SENDER}`, text),
      await post(`key=${OPS_ONLY}&robot=dev`, text),
    ];
    expect(answers.map((a) => [a.status, a.body.errcode])).toEqual(Array(5).fill([200, 93000]));
    expect(answers[2].body.errmsg).toContain('no robot is named nosuch');
    for (const a of answers) for (const key of [OPS_KEY, DEV_KEY, SENDER]) expect(a.body.errmsg).not.toContain(key);
    const all = await post(`key=${OPS_ONLY}&robot=ops`, { msgtype: 'text', text: { content: 'x', mentioned_list: ['@all'] } });
    expect(all.body.errcode).toBe(60011);
    expect(h.sim.robotSent).toHaveLength(0);
  });

  it('when a scoped key names a robot it may not use, then the 93000 lists only the robots in its scope', async () => {
    const unknown = await post(`key=${OPS_ONLY}&robot=nosuch`, { msgtype: 'text', text: { content: 'x' } });
    expect(unknown.body.errcode).toBe(93000);
    expect(unknown.body.errmsg).toContain('configured: ops');
    expect(unknown.body.errmsg).not.toContain('dev');
  });

  it('when a scoped key @-mentions everyone by mentioned_mobile_list, then 60011 and nothing is sent', async () => {
    const text = { content: 'x', mentioned_mobile_list: ['@all'] };
    const all = await post(`key=${OPS_ONLY}&robot=ops`, { msgtype: 'text', text });
    expect([all.status, all.body.errcode]).toEqual([200, 60011]);
    expect((await post(`key=${SENDER}&robot=ops`, { msgtype: 'text', text })).body.errcode).toBe(0);
    await eventually(() => h.sim.robotSent.length === 1);
    expect(h.sim.robotSent[0].body).toMatchObject({ mentioned_mobile_list: ['@all'] });
  });

  it("when a body carries the gateway's own media field, then 40058 naming it: WeCom bodies carry media_id or base64", async () => {
    const file = { media_id: 'x', media: { url: 'http://127.0.0.1:1/secret' } };
    const res = await post(`key=${SENDER}&robot=ops`, { msgtype: 'file', file });
    expect([res.status, res.body.errcode]).toEqual([200, 40058]);
    expect(res.body.errmsg).toContain('file.media');
    expect(h.sim.robotSent).toHaveLength(0);
  });

  it("when a body breaks a robot's limits, then WeCom's robot errcodes: 44004, 40058 past 4096 bytes of markdown, 40008", async () => {
    const codes = [
      await post(`key=${SENDER}&robot=ops`, { msgtype: 'text', text: { content: '' } }),
      await post(`key=${SENDER}&robot=ops`, { msgtype: 'markdown', markdown: { content: 'x'.repeat(4097) } }),
      await post(`key=${SENDER}&robot=ops`, { msgtype: 'textcard', textcard: {} }),
    ].map((a) => a.body.errcode);
    expect(codes).toEqual([44004, 40058, 40008]);
  });
});

describe('POST /cgi-bin/webhook/upload_media?key=K&robot=R&type=file', () => {
  it("when a file is uploaded, then it goes with the robot's real key and its media_id sends a file message", async () => {
    const up = await h.api
      .post(`/cgi-bin/webhook/upload_media?key=${SENDER}&robot=ops&type=file`)
      .attach('media', Buffer.from('quarterly numbers'), 'report.txt');
    expect(up.body).toEqual({ errcode: 0, errmsg: 'ok', type: 'file', media_id: expect.any(String), created_at: expect.any(String) });
    expect((await post(`key=${SENDER}&robot=ops`, { msgtype: 'file', file: { media_id: up.body.media_id } })).body.errcode).toBe(0);
    await eventually(() => h.sim.robotSent.length === 1);
    expect(h.sim.robotSent[0]).toMatchObject({ key: OPS_KEY, msgtype: 'file', body: { media_id: up.body.media_id } });
  });

  it('when a scoped key uploads for a robot outside its scope, then 93000 and nothing reaches WeCom', async () => {
    const up = await h.api
      .post(`/cgi-bin/webhook/upload_media?key=${OPS_ONLY}&robot=dev&type=file`)
      .attach('media', Buffer.from('quarterly numbers'), 'report.txt');
    expect([up.status, up.body.errcode]).toEqual([200, 93000]);
    expect(up.body.errmsg).toContain('(configured: ops)');
    expect(h.sim.calls.filter((c) => c.api === 'webhook/upload_media')).toHaveLength(0);
  });
});
