import { loadConfig } from '../../src/config/load';
import { describeProxy, proxyFor, proxySecrets } from '../../src/http/proxy';

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

describe('the proxy settings', () => {
  it('when the lower-case names are set, then they are read and win over the upper-case ones, as curl and undici read them', () => {
    const config = loadConfig({ https_proxy: PROXY, HTTPS_PROXY: 'http://other:3128', no_proxy: 'localhost' });
    expect(config.wecom.proxy).toEqual({ httpProxy: undefined, httpsProxy: PROXY, noProxy: 'localhost' });
    expect(config.egress.proxy).toBe(config.wecom.proxy);
  });

  it('when only NO_PROXY is set, then there is no proxy', () => {
    expect(loadConfig({ NO_PROXY: 'localhost' }).wecom.proxy).toBeUndefined();
  });

  it('when HTTPS_PROXY is not an http(s) URL, then start-up names the variable', () => {
    expect(() => loadConfig({ HTTPS_PROXY: 'proxy.internal:3128' })).toThrow(/HTTPS_PROXY: /);
  });
});
