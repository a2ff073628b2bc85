import { MemberSessions } from '../../src/http/member-session';
import { getUserInfo } from '../../src/wecom/endpoints/auth';
import { authorizeUrl } from '../../src/wecom/web-login';
import { findApp } from '../../src/wecom/app';
import { connectCore } from '../../src/core';
import pino from 'pino';
import { SIM_APP, startHarness, type Harness } from '../support/harness';

describe("WeCom's web login (auth/getuserinfo) against the simulator, and the member's session", () => {
  let h: Harness;
  let core: Awaited<ReturnType<typeof connectCore>>;
  beforeAll(async () => {
    h = await startHarness();
    core = await connectCore(h.config, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await core?.close();
    await h.close();
  });

  /** A code as the simulator's authorize page puts on the redirect for `userid`. */
  async function codeFor(userid: string): Promise<string> {
    const url = authorizeUrl({
      oauthBase: h.sim.url,
      corpId: SIM_APP.corpId,
      agentId: SIM_APP.agentId,
      redirectUri: 'http://gw.example/alerts/x',
      state: 'abc',
    });
    expect(url).toMatch(/#wechat_redirect$/);
    const res = await fetch(`${url.replace('#wechat_redirect', '')}&userid=${userid}`, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('abc');
    return back.searchParams.get('code')!;
  }

  it('when a code is exchanged, then it names the member once; a second exchange and an unknown code answer 40029', async () => {
    const app = findApp(h.config)!;
    const code = await codeFor('zhangsan');
    expect(await core.api.call(app, getUserInfo(code))).toEqual({ kind: 'ok', value: { kind: 'member', userid: 'zhangsan' } });
    const again = await core.api.call(app, getUserInfo(code));
    expect(again).toMatchObject({ kind: 'permanent', error: { errcode: 40029 } });
    expect(await core.api.call(app, getUserInfo('nosuchcode'))).toMatchObject({ kind: 'permanent', error: { errcode: 40029 } });
  });

  it('when the authorize link names another corp, then the simulator refuses it as WeCom does', async () => {
    const url = authorizeUrl({ oauthBase: h.sim.url, corpId: 'wwother', agentId: 1, redirectUri: 'http://gw.example/', state: 's' });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('appid wwother');
  });

  it('when a session is issued, then it reads back until it expires, and a changed payload, signature or secret reads as none', () => {
    let now = 1_000_000;
    const sessions = new MemberSessions('app-secret', { ttlMs: 60_000, clock: () => now });
    const value = sessions.issue('lisi');
    expect(sessions.verify(value)).toBe('lisi');
    const [payload, mac] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ u: 'mallory', e: now + 60_000 })).toString('base64url');
    expect(sessions.verify(`${forged}.${mac}`)).toBeUndefined();
    expect(sessions.verify(`${payload}.${mac.slice(1)}x`)).toBeUndefined();
    expect(new MemberSessions('other-secret', { ttlMs: 60_000, clock: () => now }).verify(value)).toBeUndefined();
    expect(value).not.toContain('app-secret');
    now += 60_001;
    expect(sessions.verify(value)).toBeUndefined();
  });
});
