import { createHmac, timingSafeEqual } from 'node:crypto';
import { keyCaller, LOCAL_CALLER, type ApiKey, type Caller } from '../http/auth';
import { COMPAT_TOKEN_GRACE_SECONDS, COMPAT_TOKEN_SECONDS, CompatErrcode, CompatError } from '../wecom/compat/answers';
import type { WecomApp } from '../wecom/app';

/**
 * The gateway's own access_tokens for its WeCom-style API: stateless, never
 * WeCom's. `<payload>.<mac>`, both base64url: the payload names the API key (by
 * its id), the corp and the issue time; the MAC is HMAC-SHA256 keyed by
 * HMAC-SHA256(the corp's first app secret, the API key's value). Every replica has
 * both, a token holder neither: a leaked token is no oracle for guessing keys
 * offline. A removed or changed key, or a changed app secret, makes its tokens fail
 * the MAC (40014); 7200 s after issue (and a grace of 300 s) a token is expired
 * (42001). No Redis read checks one.
 */

/** What a token carries: whose key, which corp, when (epoch seconds). */
interface Claims {
  keyId: string;
  corpId: string;
  issuedAt: number;
}

/** Who a valid token speaks for: the key's caller, and the corp whose apps it sends through. */
export interface TokenHolder {
  caller: Caller;
  corpId: string;
}

const mac = (secret: Buffer, payload: string) => createHmac('sha256', secret).update(payload).digest();

function readClaims(payload: string): Claims | undefined {
  try {
    const [keyId, corpId, issuedAt] = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown[];
    if (typeof keyId === 'string' && typeof corpId === 'string' && Number.isInteger(issuedAt))
      return { keyId, corpId, issuedAt: issuedAt as number };
  } catch {
    // not one of ours
  }
  return undefined;
}

export class CompatTokens {
  private readonly byId: Map<string, ApiKey>;

  constructor(
    private readonly keys: ApiKey[],
    private readonly apps: WecomApp[],
    private readonly clock: () => number,
  ) {
    this.byId = new Map(keys.map((key) => [key.id, key]));
  }

  /** Keyless mode (no GATEWAY_API_KEYS): loopback callers' tokens, signed with the corp's app secret alone, stable across restarts. */
  get keyless(): boolean {
    return this.keys.length === 0;
  }

  /** The MAC key of a key id's tokens for a corp (see above); none for a key that is gone or a corp not served. */
  private secretOf(keyId: string, corpId: string): Buffer | undefined {
    const app = this.apps.find((a) => a.corpId === corpId);
    const key = this.byId.get(keyId);
    const value = this.keyless && keyId === LOCAL_CALLER.id ? 'wecom-gateway keyless token' : key?.permissions.has('send') && key.key;
    return app && value ? createHmac('sha256', app.secret).update(value).digest() : undefined;
  }

  /** A new token for this caller and corp, issued now (core.clock). */
  issue(caller: Caller, corpId: string): string {
    const secret = this.secretOf(caller.id, corpId);
    if (!secret) throw new Error(`no secret for ${caller.id}`);
    const payload = Buffer.from(JSON.stringify([caller.id, corpId, Math.floor(this.clock() / 1000)])).toString('base64url');
    return `${payload}.${mac(secret, payload).toString('base64url')}`;
  }

  /** Whose token this is, or WeCom's refusal: 41001 missing, 40014 not ours (or its key is gone or changed), 42001 expired. */
  check(token: string | undefined): TokenHolder {
    if (!token) throw new CompatError(CompatErrcode.missingToken, 'access_token missing');
    const [payload, signature, extra] = token.split('.');
    const claims = payload && signature && extra === undefined ? readClaims(payload) : undefined;
    const secret = claims && this.secretOf(claims.keyId, claims.corpId);
    const given = Buffer.from(signature ?? '', 'base64url');
    if (!claims || !secret || !sameMac(given, mac(secret, payload)))
      throw new CompatError(CompatErrcode.invalidToken, 'invalid access_token: fetch a new one with gettoken');
    if (Math.floor(this.clock() / 1000) - claims.issuedAt >= COMPAT_TOKEN_SECONDS + COMPAT_TOKEN_GRACE_SECONDS)
      throw new CompatError(CompatErrcode.expiredToken, 'access_token expired: fetch a new one with gettoken');
    const key = this.byId.get(claims.keyId);
    return { caller: key ? keyCaller(key) : LOCAL_CALLER, corpId: claims.corpId };
  }
}

const sameMac = (given: Buffer, expected: Buffer) => given.length === expected.length && timingSafeEqual(given, expected);
