import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { EgressPolicy } from '../../src/http/egress';
import { egressAgent, egressRequest } from '../../src/http/egress-request';
import { alert, finalStatus, startHarness, type Harness } from '../support/harness';
import { startTinyproxy, type Tinyproxy, tunnelsTo } from '../support/tinyproxy';

/**
 * A real forward proxy (tinyproxy) between the gateway and WeCom. Its outgoing
 * connections leave from 127.0.0.2 and the simulator trusts that address only (企业可信IP):
 * a call that did not come through the proxy answers 60020 naming 127.0.0.1, as WeCom
 * names the address it saw. The proxy asks for credentials, so a call that got through
 * also shows they were sent; they must appear nowhere else.
 */
const PROXY_EGRESS = '127.0.0.2';
const AUTH = { user: 'gw', password: 'pr0xy-Secret-7f3a' };
const ROBOT_KEY = '5a2d1c3e-proxy-robot-key-0001';
const TRUSTED = { trustedIps: [PROXY_EGRESS], robotKeys: [ROBOT_KEY] };

/** A file server on loopback (a caller's media URL) that notes where each request came from. */
async function fileServer() {
  const from: string[] = [];
  const server = createServer((req, res) => {
    from.push(req.socket.remoteAddress ?? '');
    res.end('id,value\n1,42\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    from,
    close: () => new Promise((r) => server.close(r)),
  };
}

function capturedLogs(): { logger: pino.Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (chunks.push(String(chunk)), done()) });
  return { logger: pino({ level: 'debug' }, stream), text: () => chunks.join('') };
}

function runDoctor(env: Record<string, string | undefined>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'src', 'main', 'doctor.js')], {
    env: { PATH: process.env.PATH, REDIS_URL: process.env.TEST_REDIS_URL, ...env },
  });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout, stderr })));
}

const simPort = (h: Harness) => Number(new URL(h.sim.url).port);
const egressLine = (findings: { check: string; ok: boolean; detail: string }[]) => findings.find((f) => f.check === 'egress');

let proxy: Tinyproxy;
beforeAll(async () => {
  proxy = await startTinyproxy({ bind: PROXY_EGRESS, auth: AUTH });
});
afterAll(() => proxy.stop());

describe('with HTTPS_PROXY and HTTP_PROXY set', () => {
  let h: Harness;
  let files: Awaited<ReturnType<typeof fileServer>>;
  const logs = capturedLogs();
  beforeAll(async () => {
    files = await fileServer();
    h = await startHarness({
      env: {
        HTTPS_PROXY: proxy.url,
        HTTP_PROXY: proxy.url,
        WECOM_ROBOTS: `ops=${ROBOT_KEY}`,
        EGRESS_ALLOW: '127.0.0.1',
        LOG_LEVEL: 'debug',
      },
      simulator: TRUSTED,
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await h.close();
    await files.close();
  });
  beforeEach(() => h.sim.reset());

  it('when a message goes to a member and a robot, then gettoken, message/send and webhook/send all reach WeCom through the proxy', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ msgtype: 'text', to: { users: ['zhangsan'], robots: ['ops'] } }));
    expect(res.status).toBe(202);
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    // Every call WeCom saw (the reachability check's getcallbackip too) came from the proxy's address.
    expect(h.sim.calls.map((c) => c.api)).toEqual(expect.arrayContaining(['gettoken', 'message/send', 'webhook/send']));
    expect(h.sim.calls.filter((c) => c.from !== PROXY_EGRESS)).toEqual([]);
    expect(h.sim.robotSent).toHaveLength(1);
  });

  it("when a file message names a caller's URL, then the download goes through the proxy to the checked address and the upload to WeCom too", async () => {
    const res = await h.api.post('/v1/messages').send({
      event: 'report.ready',
      msgtype: 'file',
      to: { users: ['zhangsan'] },
      data: { fileUrl: `http://127.0.0.1:${files.port}/q3.csv`, filename: 'q3.csv' },
    });
    expect(res.status).toBe(202);
    expect((await finalStatus(h.api, res.body.id, 15_000)).status).toBe('sent');
    expect(files.from.at(-1)).toMatch(/^(::ffff:)?127\.0\.0\.2$/);
    expect(tunnelsTo(proxy.log(), files.port)).toBeGreaterThanOrEqual(1);
    expect(h.sim.calls.find((c) => c.api === 'media/upload' && c.errcode === 0)).toEqual(expect.objectContaining({ from: PROXY_EGRESS }));
    expect(h.sim.calls.filter((c) => c.from !== PROXY_EGRESS)).toEqual([]);
  });

  it("when a caller's media URL points at loopback or a metadata service, then the egress policy still refuses it", async () => {
    for (const fileUrl of [
      'http://169.254.169.254/latest/meta-data/',
      `http://127.0.0.3:${files.port}/q3.csv`,
      `http://localhost:${files.port}/q3.csv`,
    ]) {
      const res = await h.api
        .post('/v1/messages')
        .send({ event: 'report.ready', msgtype: 'file', to: { users: ['zhangsan'] }, data: { fileUrl } });
      expect({ fileUrl, status: res.status, body: JSON.stringify(res.body) }).toEqual({
        fileUrl,
        status: 400,
        body: expect.stringContaining('refused by the egress policy'),
      });
    }
    expect(h.sim.calls).toEqual([]);
  });

  it('when the diagnostics run, then every check passes and the egress line names the proxy without its credentials', async () => {
    const res = await h.api.get('/v1/diagnostics');
    expect(res.body.ok).toBe(true);
    expect(egressLine(res.body.findings)).toEqual({
      ok: true,
      app: 'all',
      check: 'egress',
      detail: `calls to ${h.sim.url} go through the proxy http://127.0.0.1:${proxy.port} (NO_PROXY: none)`,
    });
    expect(h.sim.calls.filter((c) => c.from !== PROXY_EGRESS)).toEqual([]);
    expect(h.sim.calls.map((c) => c.api)).toEqual(expect.arrayContaining(['agent/get', 'getcallbackip']));
    expect(JSON.stringify(res.body)).not.toContain(AUTH.password);
  });

  it("when npm run doctor runs with the same settings, then it reports through the proxy and never prints the proxy's password", async () => {
    const { status, stdout, stderr } = await runDoctor({
      WECOM_API_BASE: h.sim.url,
      WECOM_CORP_ID: h.config.apps[0].corpId,
      WECOM_AGENT_ID: String(h.config.apps[0].agentId),
      WECOM_AGENT_SECRET: 'test-secret',
      GATEWAY_API_KEYS: 'a-key-of-enough-length-0001',
      http_proxy: proxy.url,
    });
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(stdout).toContain(`ok   all egress: calls to ${h.sim.url} go through the proxy http://127.0.0.1:${proxy.port} (NO_PROXY: none)`);
    expect(stdout).not.toContain(AUTH.password);
  });

  it("when the gateway has logged its calls at debug level, then the proxy's password is in none of its lines", () => {
    expect(logs.text()).toContain('fetched access_token');
    expect(logs.text()).not.toContain(AUTH.password);
    expect(logs.text()).not.toContain(encodeURIComponent(AUTH.password));
  });
});

describe('with a proxy that refuses the credentials given', () => {
  const wrong = 'wr0ng-Pass-e81c';
  let h: Harness;
  const logs = capturedLogs();
  beforeAll(async () => {
    const url = proxy.url.replace(encodeURIComponent(AUTH.password), wrong);
    h = await startHarness({ env: { HTTPS_PROXY: url, HTTP_PROXY: url, SEND_ATTEMPTS: '1', LOG_LEVEL: 'debug' }, logger: logs.logger });
  });
  afterAll(() => h.close());

  it('when a message and the diagnostics fail at the proxy, then neither their errors nor the logs quote the password', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ msgtype: 'text' }));
    const status = await finalStatus(h.api, res.body.id);
    expect(status.status).toBe('failed');
    const diagnostics = await h.api.get('/v1/diagnostics');
    expect(diagnostics.body.ok).toBe(false);
    expect(h.sim.calls).toEqual([]);
    for (const text of [JSON.stringify(status), JSON.stringify(diagnostics.body), logs.text()]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(AUTH.password);
    }
  });
});

describe('without proxy settings', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ simulator: TRUSTED });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it("when the app trusts only the proxy's address, then doctor says the calls go direct, names the address WeCom saw and what to do", async () => {
    const tunnelsBefore = tunnelsTo(proxy.log(), simPort(h));
    const res = await h.api.get('/v1/diagnostics');
    expect(res.body.ok).toBe(false);
    const egress = egressLine(res.body.findings);
    expect(egress).toEqual(expect.objectContaining({ ok: false, app: 'all' }));
    expect(egress!.detail).toBe(
      `calls to ${h.sim.url} go direct (no HTTPS_PROXY or HTTP_PROXY set); WeCom saw them come from 127.0.0.1, which app default ` +
        "does not trust (errcode 60020): add 127.0.0.1 to the app's trusted IPs (WeCom admin -> app -> 企业可信IP), " +
        'or set HTTPS_PROXY to a proxy that leaves from a trusted address',
    );
    expect(h.sim.calls.map((c) => c.from)).toEqual(h.sim.calls.map(() => '127.0.0.1'));
    expect(tunnelsTo(proxy.log(), simPort(h))).toBe(tunnelsBefore);
  });

  it('when a message is sent, then WeCom refuses it with 60020 and the status names the address to trust', async () => {
    const res = await h.api.post('/v1/messages').send(alert({ msgtype: 'text' }));
    const status = await finalStatus(h.api, res.body.id);
    expect(status).toEqual(
      expect.objectContaining({
        status: 'failed',
        error: expect.objectContaining({ errcode: 60020, hint: expect.stringContaining('add 127.0.0.1') }),
      }),
    );
  });
});

describe('with NO_PROXY covering WeCom', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' } });
  });
  afterAll(() => h.close());

  it('when a message is sent, then every call goes direct and the proxy opens no tunnel to WeCom', async () => {
    const tunnelsBefore = tunnelsTo(proxy.log(), simPort(h));
    const res = await h.api.post('/v1/messages').send(alert({ msgtype: 'text' }));
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    expect(h.sim.calls.map((c) => c.api)).toEqual(expect.arrayContaining(['gettoken', 'message/send']));
    expect(h.sim.calls.filter((c) => c.from !== '127.0.0.1')).toEqual([]);
    expect(tunnelsTo(proxy.log(), simPort(h))).toBe(tunnelsBefore);
    const diagnostics = await h.api.get('/v1/diagnostics');
    expect(egressLine(diagnostics.body.findings)?.detail).toBe(
      `calls to ${h.sim.url} go direct (NO_PROXY: localhost,127.0.0.1 covers 127.0.0.1)`,
    );
  });
});

describe("a caller's URL through the proxy, the name resolved by the gateway", () => {
  let files: Awaited<ReturnType<typeof fileServer>>;
  beforeAll(async () => {
    files = await fileServer();
  });
  afterAll(() => files.close());

  /** An egress agent through the proxy whose resolver answers `address` for every name. */
  const through = (address: string) =>
    egressAgent(new EgressPolicy({ allow: ['127.0.0.1'], privateRanges: 'allow' }, [], async () => [{ address }]), {
      timeoutMs: 5_000,
      proxy: { httpProxy: proxy.url, httpsProxy: proxy.url },
    });

  it('when a name resolves to an allowed address, then the proxy is asked to CONNECT that address, never the name', async () => {
    const agent = through('127.0.0.1');
    try {
      const result = await egressRequest(`http://files.example:${files.port}/q3.csv`, {
        dispatcher: agent,
        timeoutMs: 5_000,
        maxBytes: 1_000,
      });
      expect(result).toEqual(expect.objectContaining({ kind: 'response', statusCode: 200 }));
      expect(tunnelsTo(proxy.log(), files.port)).toBeGreaterThanOrEqual(1);
      expect(proxy.log()).not.toContain('files.example');
    } finally {
      await agent.close();
    }
  });

  it('when a name resolves to a metadata or loopback address, then it is refused before the proxy hears of it', async () => {
    for (const address of ['169.254.169.254', '127.0.0.5']) {
      const agent = through(address);
      try {
        const result = await egressRequest(`http://rebound-${address}.example:${files.port}/`, { dispatcher: agent, timeoutMs: 5_000 });
        expect(result).toEqual({ kind: 'refused', reason: 'refused by the egress policy', permanent: true });
      } finally {
        await agent.close();
      }
    }
    expect(proxy.log()).not.toContain('rebound-');
  });
});
