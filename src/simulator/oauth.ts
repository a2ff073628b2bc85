import { randomBytes } from 'node:crypto';
import express, { type Express, type Request } from 'express';
import type { SimulatedDirectory } from './directory';
import type { ApiHost, SimulatorApp } from './host';
import { escapeHtml, page } from './scan-page';
import { USER_ID } from './validate-message';

/** A web login's code: usable once, within 5 minutes (reference §17). */
const CODE_TTL_MS = 5 * 60_000;

interface IssuedCode {
  corpId: string;
  userid: string;
  expiresAt: number;
}

/**
 * WeCom's web login (reference §17): oauth2/authorize sends the browser back to the
 * redirect_uri with a code, and auth/getuserinfo tells the app whose code it is. Who
 * "is logged in" is chosen on a small page from the directory's members, or set once
 * by a control (PUT /__sim/oauth/login {userid}) so tests and the sandbox go straight through.
 */
export class WebLogin {
  private readonly codes = new Map<string, IssuedCode>();
  private loggedIn?: string;

  constructor(
    private readonly host: ApiHost,
    private readonly corp: { apps: SimulatorApp[]; directory: SimulatedDirectory },
  ) {}

  routes(app: Express): void {
    app.get('/connect/oauth2/authorize', (req, res) => {
      const ask = this.authorizeRequest(req);
      if (typeof ask === 'string')
        return void res
          .status(400)
          .type('html')
          .send(page('授权失败', `<p class="warn">${escapeHtml(ask)}</p>`));
      const chosen = typeof req.query.userid === 'string' && USER_ID.test(req.query.userid) ? req.query.userid : this.loggedIn;
      if (chosen) return res.redirect(302, this.redirectWithCode(ask, chosen));
      res.type('html').send(page('企业微信登录 · WeCom login', this.chooser(req)));
    });
    app.get('/cgi-bin/auth/getuserinfo', async (req, res) => {
      if (await this.host.injectFault('auth/getuserinfo', req, res)) return;
      const caller = this.host.authorize(req);
      if ('errcode' in caller) return this.host.answer(res, 'auth/getuserinfo', caller);
      const code = typeof req.query.code === 'string' ? req.query.code : '';
      const issued = this.codes.get(code);
      // Used once: a second exchange of the same code is refused like an unknown one.
      this.codes.delete(code);
      if (!issued || issued.expiresAt < Date.now() || issued.corpId !== caller.corpId)
        return this.host.answer(res, 'auth/getuserinfo', { errcode: 40029, errmsg: 'invalid code' });
      return this.host.answer(res, 'auth/getuserinfo', { errcode: 0, errmsg: 'ok', userid: issued.userid });
    });
    app.put('/__sim/oauth/login', express.json(), (req, res) => {
      const userid: unknown = req.body?.userid;
      if (userid !== null && (typeof userid !== 'string' || !USER_ID.test(userid)))
        return void res.status(400).json({ error: 'expected {userid}: a userid, or null to ask on the page again' });
      this.loggedIn = userid ?? undefined;
      res.json({ ok: true, loggedIn: this.loggedIn ?? null });
    });
  }

  /** The authorize link's parameters as WeCom checks them, or what is wrong with them. */
  private authorizeRequest(req: Request): { redirectUri: URL; state: string; corpId: string } | string {
    const q = req.query as Record<string, unknown>;
    const corpId = typeof q.appid === 'string' ? q.appid : '';
    if (!this.corp.apps.some((a) => a.corpId === corpId)) return `appid ${corpId || '(none)'} is not this corp's`;
    if (q.response_type !== 'code') return 'response_type must be code';
    if (q.scope !== 'snsapi_base' && q.scope !== 'snsapi_privateinfo') return 'scope must be snsapi_base or snsapi_privateinfo';
    if (typeof q.redirect_uri !== 'string' || !URL.canParse(q.redirect_uri)) return 'redirect_uri must be an absolute URL';
    return { redirectUri: new URL(q.redirect_uri), state: typeof q.state === 'string' ? q.state : '', corpId };
  }

  private redirectWithCode(ask: { redirectUri: URL; state: string; corpId: string }, userid: string): string {
    const code = randomBytes(24).toString('hex');
    this.codes.set(code, { corpId: ask.corpId, userid, expiresAt: Date.now() + CODE_TTL_MS });
    const target = new URL(ask.redirectUri);
    target.searchParams.set('code', code);
    target.searchParams.set('state', ask.state);
    return target.toString();
  }

  /** The members to log in as (an open directory: a userid to type), each a link back to authorize naming them. */
  private chooser(req: Request): string {
    const again = (userid: string) => {
      const query = new URLSearchParams(req.query as Record<string, string>);
      query.set('userid', userid);
      return `/connect/oauth2/authorize?${query.toString()}`;
    };
    const { anyUserid, members } = this.corp.directory.listing();
    const links = members.map(
      (m) => `<p class="bubble"><a data-userid="${escapeHtml(m.userid)}" href="${escapeHtml(again(m.userid))}">${escapeHtml(m.name)}</a> \
<span class="kind">${escapeHtml(m.userid)}</span></p>`,
    );
    const hidden = Object.entries(req.query as Record<string, string>)
      .filter(([name]) => name !== 'userid')
      .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
      .join('');
    const typed = anyUserid
      ? `<form method="get" action="/connect/oauth2/authorize">${hidden}<input name="userid" placeholder="userid" required> \
<button type="submit">登录 · log in</button></form>`
      : '';
    return `<h1>以谁的身份登录？<small>Log in as which member?</small></h1>${links.join('')}${typed}`;
  }
}
