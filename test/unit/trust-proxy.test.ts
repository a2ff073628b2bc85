import { loadConfig, startupWarnings } from '../../src/config/load';
import { problemsOf } from '../support/config-problems';

describe('TRUST_PROXY', () => {
  it.each([
    '1',
    'true',
    'false',
    'loopback',
    '10.42.7.0/24',
    '10.42.7.0/24, 10.42.9.17',
    '10.0.0.0/255.0.0.0',
    'fd00:1::/64',
    '192.0.2.0/24',
  ])('when it is %s, then the configuration loads', (value) => {
    expect(problemsOf({ TRUST_PROXY: value })).toEqual([]);
  });

  it.each(['foo', '10.0.0.0/33', 'loopback, ingress', '10.1.2.3/8/1'])(
    'when it is %s, then start-up stops naming TRUST_PROXY (not a crash in express)',
    (value) => {
      expect(problemsOf({ TRUST_PROXY: value })).toEqual([expect.stringMatching(/^TRUST_PROXY: .*not an address, a CIDR/)]);
    },
  );

  it.each([
    ['true', 'every peer'],
    ['2', 'every peer'],
    ['loopback, linklocal, uniquelocal', 'every private address (uniquelocal)'],
    ['10.0.0.0/8', 'every private address (10.0.0.0/8)'],
  ])('when it is %s, then start-up warns that it trusts %s', (value, what) => {
    expect(startupWarnings(loadConfig({ TRUST_PROXY: value }))).toContainEqual(expect.stringContaining(what));
  });

  it.each(['10.42.7.0/24', 'loopback', '192.0.2.0/24'])('when it names the proxies (%s), then there is no warning about it', (value) => {
    expect(startupWarnings(loadConfig({ TRUST_PROXY: value })).filter((w) => w.includes('TRUST_PROXY'))).toEqual([]);
  });
});
