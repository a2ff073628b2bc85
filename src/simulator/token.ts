import { randomBytes } from 'node:crypto';
import type { Express, Request } from 'express';
import { type ApiHost, callerAddress, type SimulatorApp } from './host';

interface IssuedToken {
  app: SimulatorApp;
  expiresAt: number;
  state: 'valid' | 'expired' | 'revoked';
}

export const DEFAULT_APP: SimulatorApp = { corpId: 'wwsandbox000000001', agentId: 1000002, secret: 'sandbox-secret' };

/**
 * Access tokens (gettoken, reference §1): issued per app, expired or revoked by tests.
 * With trusted IPs (企业可信IP, reference §0), a call with a token from another address
 * answers 60020 naming it; gettoken itself answers anyone, as WeCom's does.
 */
export class Tokens {
  /** How many times tokens were expired (by a test or by chaos): each may cost one gettoken. */
  tokenExpiries = 0;
  private readonly tokens = new Map<string, IssuedToken>();
  /** The callers' addresses the corp's apps trust, fixed at start; undefined: every address (as for apps made before 2022-06-20). */
  private readonly trusted?: Set<string>;

  constructor(
    readonly apps: SimulatorApp[],
    private readonly ttlSeconds = 7200,
    trustedIps?: string[],
  ) {
    this.trusted = trustedIps ? new Set(trustedIps) : undefined;
  }

  expireTokens(): void {
    this.tokenExpiries++;
    for (const token of this.tokens.values()) if (token.state === 'valid') token.state = 'expired';
  }

  revokeTokens(): void {
    for (const token of this.tokens.values()) token.state = 'revoked';
  }

  reset(): void {
    this.tokens.clear();
    this.tokenExpiries = 0;
  }

  /** The app a token belongs to, or the errcode WeCom answers for it. */
  authorize(req: Request): SimulatorApp | { errcode: number; errmsg: string } {
    const token = typeof req.query.access_token === 'string' ? req.query.access_token : '';
    if (!token) return { errcode: 41001, errmsg: 'access_token missing' };
    const issued = this.tokens.get(token);
    if (!issued || issued.state === 'revoked') return { errcode: 40014, errmsg: 'invalid access_token' };
    if (issued.state === 'expired' || issued.expiresAt < Date.now()) return { errcode: 42001, errmsg: 'access_token expired' };
    if (this.trusted && !this.trusted.has(callerAddress(req))) return { errcode: 60020, errmsg: 'not allow to access from your ip' };
    return issued.app;
  }

  routes(app: Express, host: Pick<ApiHost, 'answer' | 'injectFault'>): void {
    app.get('/cgi-bin/gettoken', async (req, res) => {
      if (await host.injectFault('gettoken', req, res)) return;
      const { corpid, corpsecret } = req.query as Record<string, string | undefined>;
      if (!corpsecret) return host.answer(res, 'gettoken', { errcode: 41004, errmsg: 'corpsecret missing' });
      const corpApps = this.apps.filter((a) => a.corpId === corpid);
      if (corpApps.length === 0) return host.answer(res, 'gettoken', { errcode: 40013, errmsg: 'invalid corpid' });
      const match = corpApps.find((a) => a.secret === corpsecret);
      if (!match) return host.answer(res, 'gettoken', { errcode: 40001, errmsg: 'invalid credential' });
      const token = this.tokenFor(match);
      const remaining = Math.round((this.tokens.get(token)!.expiresAt - Date.now()) / 1000);
      return host.answer(res, 'gettoken', { errcode: 0, errmsg: 'ok', access_token: token, expires_in: remaining });
    });
  }

  /** Within its validity WeCom hands out the same token again (reference §1). */
  private tokenFor(app: SimulatorApp): string {
    const valid = [...this.tokens.entries()].find(([, t]) => t.app === app && t.state === 'valid' && t.expiresAt > Date.now());
    if (valid) return valid[0];
    const token = randomBytes(48).toString('base64url');
    this.tokens.set(token, { app, expiresAt: Date.now() + this.ttlSeconds * 1000, state: 'valid' });
    return token;
  }
}
