import pino from 'pino';
import { CallbackIpAllowlist } from '../../src/callback/ip-allowlist';
import type { WecomApp } from '../../src/wecom/app';
import type { WecomApi } from '../../src/wecom/wecom-api';

/** An allowlist refreshed from a getcallbackip answer of our choosing. */
async function allowlistOf(ipList: string[]): Promise<CallbackIpAllowlist> {
  const api = { call: async () => ({ kind: 'ok', value: ipList }) } as unknown as WecomApi;
  const allowlist = new CallbackIpAllowlist(api, { name: 'default' } as WecomApp, pino({ level: 'silent' }));
  await allowlist.refresh();
  return allowlist;
}

describe("the callback IP allowlist (WeCom's getcallbackip)", () => {
  // What WeCom answers: ranges and single addresses mixed (issue 33 saw 101.226.103.0/25).
  const WECOM = ['101.226.103.0/25', '182.254.11.176/28', '140.207.54.76', '2402:4e00:1::/48'];

  it.each([
    ['101.226.103.0', true],
    ['101.226.103.61', true],
    ['101.226.103.127', true],
    ['101.226.103.128', false],
    ['182.254.11.190', true],
    ['182.254.11.192', false],
    ['140.207.54.76', true],
    ['140.207.54.77', false],
    ['::ffff:101.226.103.61', true],
    ['::ffff:140.207.54.76', true],
    ['::ffff:101.226.104.1', false],
    ['2402:4e00:1:2::9', true],
    ['2402:4e00:2::9', false],
    ['203.0.113.9', false],
  ])('when a push comes from %s, then it is allowed: %s', async (ip, allowed) => {
    expect((await allowlistOf(WECOM)).allows(ip)).toBe(allowed);
  });

  it('when the caller has no address, then it is refused', async () => {
    expect((await allowlistOf(WECOM)).allows(undefined)).toBe(false);
  });

  it('when an entry cannot be read, then it is skipped and the others still apply', async () => {
    const allowlist = await allowlistOf(['not-an-ip', '10.0.0.0/33', '101.226.103.0/25']);
    expect(allowlist.allows('101.226.103.1')).toBe(true);
    expect(allowlist.allows('10.0.0.1')).toBe(false);
  });

  it('when no list could be read, then it fails open (the signature is the real check)', async () => {
    expect((await allowlistOf(['garbage'])).allows('203.0.113.9')).toBe(true);
  });
});
