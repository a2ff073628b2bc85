import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/load';
import { EgressPolicy } from '../../src/http/egress';
import { egressAgent, egressRequest } from '../../src/http/egress-request';
import { describeProxy, proxyFor, proxySecrets } from '../../src/http/proxy';
import { diagnose } from '../../src/ops/diagnose';
import { getToken } from '../../src/wecom/endpoints/token';
import { WecomTransport } from '../../src/wecom/transport';
import type { WecomApi } from '../../src/wecom/wecom-api';

const PROXY = 'http://gw:p%40ss@proxy.internal:3128';

describe('which proxy a call goes through', () => {
  it.each([
    ['https://qyapi.weixin.qq.com/cgi-bin/gettoken', { httpsProxy: PROXY }, PROXY],
    ['https://qyapi.weixin.qq.com/cgi-bin/gettoken', { httpProxy: PROXY }, PROXY],
    ['http://mirror.internal/cgi-bin/gettoken', { httpsProxy: PROXY }, undefined],
    ['https://qyapi.weixin.qq.com/', { httpsProxy: PROXY, noProxy: 'qq.com' }, undefined],
    ['https://qyapi.weixin.qq.com/', { httpsProxy: PROXY, noProxy: '.weixin.qq.com' }, undefined],
    ['https://qyapi.weixin.qq.com/', { httpsProxy: PROXY, noProxy: 'notqq.com, localhost' }, PROXY],
    ['https://qyapi.weixin.qq.com/', { httpsProxy: PROXY, noProxy: 'qyapi.weixin.qq.com:8443' }, PROXY],
    ['http://127.0.0.1:8081/', { httpProxy: PROXY, noProxy: '127.0.0.1:8081' }, undefined],
    ['http://127.0.0.1:8081/', { httpProxy: PROXY, noProxy: '*' }, undefined],
    ['http://evil.example/', { httpProxy: PROXY, noProxy: '* ' }, undefined],
    ['http://evil.example/', { httpProxy: PROXY, noProxy: ' *' }, undefined],
    ['http://evil.example/', { httpProxy: PROXY, noProxy: 'localhost, *' }, undefined],
    ['https://qyapi.weixin.qq.com/', undefined, undefined],
  ])('when %s is called with %j, then it goes through %s', (url, settings, expected) => {
    expect(proxyFor(new URL(url), settings)).toBe(expected);
  });

  it('when a proxy is shown, then its scheme, host and port are, never its user or password', () => {
    expect(describeProxy(PROXY)).toBe('http://proxy.internal:3128');
    expect(describeProxy('http://proxy.internal')).toBe('http://proxy.internal:80');
    expect(describeProxy('https://u:v@[fd00::1]')).toBe('https://[fd00::1]:443');
  });

  it('when errors are scrubbed, then the password is looked for as written in the URL and decoded', () => {
    expect(proxySecrets({ httpsProxy: PROXY, httpProxy: 'http://proxy.internal:3128' })).toEqual(['p%40ss', 'p@ss']);
  });
});

describe("doctor's egress line", () => {
  /** The egress line alone: with no app configured, WeCom is never called. */
  const egressLine = async (apiBase: string, proxy: Parameters<typeof proxyFor>[1]) => {
    const findings = await diagnose({ apps: [], robots: [], sandbox: false, wecom: { apiBase, proxy } }, {} as WecomApi);
    return findings.find((f) => f.check === 'egress')?.detail;
  };

  it.each([
    ['http://wecom.mirror:8080', { httpsProxy: PROXY }, 'go direct (no HTTP_PROXY for http://)'],
    ['https://qyapi.weixin.qq.com', { httpsProxy: PROXY, noProxy: 'qq.com' }, 'go direct (NO_PROXY: qq.com covers qyapi.weixin.qq.com)'],
    ['https://qyapi.weixin.qq.com', undefined, 'go direct (no HTTPS_PROXY or HTTP_PROXY set)'],
    ['https://qyapi.weixin.qq.com', { httpProxy: PROXY }, 'go through the proxy http://proxy.internal:3128 (NO_PROXY: none)'],
  ])('when WeCom is at %s with %j, then the egress line says the calls %s', async (apiBase, proxy, says) => {
    expect(await egressLine(apiBase, proxy)).toBe(`calls to ${new URL(apiBase).origin} ${says}`);
  });
});

describe('the proxy settings', () => {
  it('when the lower-case names are set, then they are read and win over the upper-case ones, as curl and undici read them', () => {
    const config = loadConfig({ https_proxy: PROXY, HTTPS_PROXY: 'http://other:3128', no_proxy: 'localhost' });
    expect(config.wecom.proxy).toEqual({ httpProxy: undefined, httpsProxy: PROXY, noProxy: 'localhost' });
    expect(config.egress.proxy).toBe(config.wecom.proxy);
  });

  it('when NO_PROXY has spaces around its entries, then they are trimmed once, where it is read', () => {
    expect(loadConfig({ HTTP_PROXY: PROXY, NO_PROXY: ' * ' }).wecom.proxy?.noProxy).toBe('*');
  });

  it('when only NO_PROXY is set, then there is no proxy', () => {
    expect(loadConfig({ NO_PROXY: 'localhost' }).wecom.proxy).toBeUndefined();
  });

  it('when HTTPS_PROXY is not an http(s) URL, then start-up names the variable', () => {
    expect(() => loadConfig({ HTTPS_PROXY: 'proxy.internal:3128' })).toThrow(/HTTPS_PROXY: /);
  });
});

/** A TCP server standing for a proxy that accepts and never answers; what it heard shows who asked it for what. */
async function silentProxy(): Promise<{ url: string; heard: () => string; close: () => Promise<void> }> {
  let heard = '';
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => (heard += String(chunk))).on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => server.close(r));
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, heard: () => heard, close };
}

describe("a proxy of the test's own that accepts and never answers", () => {
  let proxy: Awaited<ReturnType<typeof silentProxy>>;
  beforeEach(async () => {
    proxy = await silentProxy();
  });
  afterEach(() => proxy.close());

  /** Fetches a caller's URL with an egress agent whose resolver answers `address` for every name, loopback allowed only as 127.0.0.1. */
  async function fetchThrough(address: string, url: string, settings: { timeoutMs: number; proxy: Parameters<typeof proxyFor>[1] }) {
    const policy = new EgressPolicy({ allow: ['127.0.0.1'], privateRanges: 'allow' }, [], async () => [{ address }]);
    const agent = egressAgent(policy, settings);
    try {
      return await egressRequest(url, { dispatcher: agent, timeoutMs: settings.timeoutMs });
    } finally {
      await agent.destroy();
    }
  }

  it.each(['* ', ' *'])(
    "when NO_PROXY is %j and a caller's name resolves to loopback, then the egress policy refuses it and the proxy hears nothing",
    async (noProxy) => {
      const result = await fetchThrough('127.0.0.5', 'http://evil.example/', {
        timeoutMs: 2_000,
        proxy: { httpProxy: proxy.url, noProxy },
      });
      expect(result).toEqual({ kind: 'refused', reason: 'refused by the egress policy', permanent: true });
      expect(proxy.heard()).toBe('');
    },
  );

  it("when WeCom is called through it, then the call fails as a network error within WECOM_TIMEOUT_MS, not undici's 5 minutes", async () => {
    const transport = new WecomTransport({ apiBase: 'https://qyapi.example', timeoutMs: 300, proxy: { httpsProxy: proxy.url } });
    try {
      const outcome = await transport.call(getToken('ww0001', 'secret'));
      expect(outcome).toEqual({ kind: 'retry', error: expect.objectContaining({ errcode: -2 }) });
      expect(proxy.heard()).toContain('CONNECT qyapi.example:443');
    } finally {
      await transport.close();
    }
  }, 5_000);

  it("when a caller's URL is fetched through it, then the fetch fails as a timeout within EGRESS_TIMEOUT_MS", async () => {
    const result = await fetchThrough('127.0.0.1', 'http://files.example:8081/q3.csv', { timeoutMs: 300, proxy: { httpProxy: proxy.url } });
    expect(result).toEqual({ kind: 'failed', reason: 'timeout', permanent: false });
    expect(proxy.heard()).toContain('CONNECT 127.0.0.1:8081');
  }, 5_000);
});
