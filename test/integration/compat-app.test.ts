import { finalStatus, SIM_APP, startHarness, UNLIMITED_SIM, type Harness } from '../support/harness';
import { capturedLogs } from '../support/captured-logs';
import type { ApiKey } from '../../src/http/auth';

/**
 * The gateway answering WeCom's own app API (issue 36): a tool that speaks WeCom
 * changes its base URL to the gateway's and keeps working, through the pipeline.
 */

const ALPHA = 'alpha-compat-key-0123456789';
const SCOPED = 'scoped-compat-key-0123456789';
const READER = 'reader-compat-key-0123456789';
const SECOND = { name: 'second', corpId: SIM_APP.corpId, agentId: 1000003, secret: 'second-secret' };
const keyOf = (id: string, key: string, permissions: ApiKey['permissions'], scope?: ApiKey['scope']): ApiKey => ({
  id,
  key,
  permissions,
  ...(scope ? { scope } : {}),
});
const KEYS = [
  keyOf('alpha', ALPHA, new Set(['send', 'read', 'admin'])),
  keyOf('scoped', SCOPED, new Set(['send', 'read']), { apps: ['second'], allowAll: false }),
  keyOf('reader', READER, new Set(['read'])),
];

let now = Date.parse('2026-12-07T10:00:00Z');
const clock = () => now;
const logs = capturedLogs('debug');

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    clock,
    logger: logs.logger,
    simulator: { ...UNLIMITED_SIM, apps: [SIM_APP, SECOND], directory: { users: ['zhangsan', 'lisi'] } },
    env: { API_RATE_LIMIT_PER_MINUTE: '0' },
    config: (c) => ({ ...c, apps: [...c.apps, SECOND], apiKeys: KEYS }),
  });
});
afterAll(() => h.close());
beforeEach(() => h.sim.reset());

const token = async (secret = ALPHA) =>
  (await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: secret })).body.access_token as string;
const send = (accessToken: string, body: Record<string, unknown>) =>
  h.api.post(`/cgi-bin/message/send?access_token=${encodeURIComponent(accessToken)}`).send(body);
const text = (content: string, extra: Record<string, unknown> = {}) => ({
  touser: 'zhangsan',
  msgtype: 'text',
  agentid: SIM_APP.agentId,
  text: { content },
  ...extra,
});

describe('GET/POST /cgi-bin/gettoken', () => {
  it('when a tool asks with the corp id and a gateway API key, then it gets a token of the gateway, 7200 s', async () => {
    const res = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: ALPHA });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ errcode: 0, errmsg: 'ok', access_token: expect.any(String), expires_in: 7200 });
    expect(res.body.access_token).not.toContain(ALPHA);
    expect(h.sim.gettokenCount()).toBe(0);
  });

  it('when a wrong secret or an unknown corp id is given, then 40001 and 40013, HTTP 200', async () => {
    const wrong = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: 'not-a-key-at-all-000000' });
    expect([wrong.status, wrong.body.errcode]).toEqual([200, 40001]);
    expect(wrong.body.errmsg).toMatch(/, hint: \[.+\]$/);
    const corp = await h.api.get('/cgi-bin/gettoken').query({ corpid: 'wwnosuchcorp', corpsecret: ALPHA });
    expect([corp.status, corp.body.errcode]).toEqual([200, 40013]);
    const missing = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId });
    expect(missing.body.errcode).toBe(41004);
    const reader = await h.api.get('/cgi-bin/gettoken').query({ corpid: SIM_APP.corpId, corpsecret: READER });
    expect(reader.body.errcode).toBe(40001);
  });
});

describe('POST /cgi-bin/message/send', () => {
  it('when a token sends a text, then the simulator gets it and GET /v1/messages/{msgid} shows it sent', async () => {
    const res = await send(await token(), text('Disk 95% on db1'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ errcode: 0, errmsg: 'ok', msgid: expect.any(String) });
    const view = await finalStatus(h.api, res.body.msgid, 10_000, ALPHA);
    expect(view).toMatchObject({ status: 'sent', event: 'wecom.message', app: 'default' });
    expect(h.sim.sent[0].body).toMatchObject({
      touser: 'zhangsan',
      msgtype: 'text',
      agentid: SIM_APP.agentId,
      text: { content: 'Disk 95% on db1' },
    });
  });
});
