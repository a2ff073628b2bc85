import express, { type Request, type RequestHandler, type Response } from 'express';
import { keyCaller, keylessRefusal, LOCAL_CALLER, type ApiKeys, type Caller, type FailedAuthGuard } from '../http/auth';
import { queryParam } from '../http/route';
import { CompatErrcode, CompatError } from '../wecom/compat/answers';
import type { WecomApp } from '../wecom/app';
import type { CompatTokens, TokenHolder } from './tokens';

/**
 * Who calls the WeCom-style API: a gateway token (message/send and the other app
 * APIs), or an API key given as a robot's `key` (webhook/send). Each sets
 * res.locals.caller as ApiKeys.require does for /v1, so the per-key rate limit and
 * the pipeline's scopes apply alike.
 */

/** Bodies of any content type (tools post JSON with or without saying so); robot images come base64, up to 2 MB of picture. */
const text = express.text({ type: () => true, limit: '4mb' });

/** A request's body as text (the route reads its own body: `body: 'own'`). */
export function bodyText(req: Request, res: Response): Promise<string | undefined> {
  return new Promise((resolve, reject) =>
    text(req, res, (error?: unknown) => (error ? reject(error) : resolve(typeof req.body === 'string' ? req.body : undefined))),
  );
}

/** Keyless mode serves loopback callers only, here as for /v1: anyone else is WeCom's untrusted address. */
function refuseUnlessLocal(req: Request): void {
  const refused = keylessRefusal(req);
  if (refused) throw new CompatError(CompatErrcode.untrustedIp, `not allow to access from your ip: ${refused.message}`);
}

/** The token's holder on a token route (set by `tokenAuth`). */
export function holderOf(res: Response): TokenHolder {
  return res.locals.compatHolder as TokenHolder;
}

/** `?access_token=`: a gateway token, checked without Redis. */
export function tokenAuth(tokens: CompatTokens): RequestHandler {
  return (req, res, next) => {
    if (tokens.keyless) refuseUnlessLocal(req);
    const holder = tokens.check(queryParam(req, 'access_token'));
    res.locals.caller = holder.caller;
    res.locals.compatHolder = holder;
    next();
  };
}

/** Wrong keys count per address as a wrong /v1 key does; past the limit the answer says when to try again. */
async function wrongKey(guard: FailedAuthGuard, req: Request, errcode: number, what: string): Promise<CompatError> {
  const wait = await guard.failed(req.ip ?? req.socket.remoteAddress ?? '');
  const retry = wait > 0 ? `; too many failed authentications from this address, retry in ${wait} s` : '';
  return new CompatError(errcode, `${what}${retry}`);
}

/** What checking a presented secret reads: the keys, the wrong-key count, and whether the gateway is keyless (the tokens know). */
type SecretDeps = { keys: ApiKeys; failures: FailedAuthGuard; tokens: Pick<CompatTokens, 'keyless'> };

/**
 * The caller a presented secret is (gettoken's corpsecret, webhook/send's key): an API
 * key with the send permission, or keyless mode's local caller; else `errcode`.
 */
export async function secretCaller(deps: SecretDeps, req: Request, secret: string | undefined, errcode: number): Promise<Caller> {
  if (deps.tokens.keyless) {
    refuseUnlessLocal(req);
    return LOCAL_CALLER;
  }
  const key = deps.keys.find(secret);
  // A missing secret is a forgotten parameter, not a guess: it is not counted.
  if (!key)
    throw secret
      ? await wrongKey(deps.failures, req, errcode, 'invalid credential: not a gateway API key')
      : new CompatError(errcode, 'invalid credential: missing');
  if (!key.permissions.has('send')) throw new CompatError(errcode, 'invalid credential: this API key may not send');
  return keyCaller(key);
}

/** webhook/send's `?key=`: an API key with send, else 93000 as WeCom answers a wrong robot key. */
export function robotKeyAuth(deps: SecretDeps): RequestHandler {
  return async (req, res, next) => {
    res.locals.caller = await secretCaller(deps, req, queryParam(req, 'key'), CompatErrcode.invalidWebhook);
    next();
  };
}

/**
 * The app a token's caller sends through: the one with `agentId` among its corp's apps,
 * or without one (appchat, media) the default app if it is the corp's, else the corp's
 * first; a key the config file restricts to some apps chooses among those only (40056).
 */
export function appFor(apps: WecomApp[], defaultApp: string, holder: TokenHolder, agentId?: number): WecomApp {
  const allowed = holder.caller.scope?.apps;
  const mine = apps.filter((app) => app.corpId === holder.corpId && (!allowed || allowed.includes(app.name)));
  const app = agentId === undefined ? (mine.find((a) => a.name === defaultApp) ?? mine[0]) : mine.find((a) => a.agentId === agentId);
  if (app) return app;
  const which = agentId === undefined ? 'no app' : `agentid ${agentId}`;
  throw new CompatError(CompatErrcode.invalidAgentId, `invalid agentid: ${which} of this corp may be used with this token's key`);
}
