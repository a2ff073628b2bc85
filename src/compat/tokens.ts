import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { keyCaller, LOCAL_CALLER, type ApiKey, type Caller } from '../http/auth';
import { COMPAT_TOKEN_GRACE_SECONDS, COMPAT_TOKEN_SECONDS, CompatErrcode, CompatError } from '../wecom/compat/answers';
import type { WecomApp } from '../wecom/app';

/**
 * The gateway's own access_tokens for its WeCom-style API: stateless, never
 * WeCom's. `<payload>.<mac>`, both base64url: the payload names the API key (by
 * its id), the corp and the issue time; the MAC is HMAC-SHA256 keyed by the API
 * key's own value. A removed or changed key makes its tokens fail the MAC (40014),
 * 7200 s after issue (and a grace of 300 s) a token is expired (42001). No Redis read checks one.
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

const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest();

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

  /** Keyless mode (no GATEWAY_API_KEYS): tokens of loopback callers are keyed by the corp's first app secret, stable across restarts. */
  get keyless(): boolean {
    return this.keys.length === 0;
  }

  /** The secret a key id's tokens are signed with: the key's value, or keyless mode's stand-in; none for a key that is gone. */
  private secretOf(keyId: string, corpId: string): string | undefined {
    if (this.keyless && keyId === LOCAL_CALLER.id) {
      const app = this.apps.find((a) => a.corpId === corpId);
      return app && createHash('sha256').update(`wecom-gateway keyless token:${app.secret}`).digest('hex');
    }
    const key = this.byId.get(keyId);
    return key?.permissions.has('send') ? key.key : undefined;
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
    if (!claims || !secret || !this.apps.some((a) => a.corpId === claims.corpId) || !sameMac(given, mac(secret, payload)))
      throw new CompatError(CompatErrcode.invalidToken, 'invalid access_token: fetch a new one with gettoken');
    if (Math.floor(this.clock() / 1000) - claims.issuedAt >= COMPAT_TOKEN_SECONDS + COMPAT_TOKEN_GRACE_SECONDS)
      throw new CompatError(CompatErrcode.expiredToken, 'access_token expired: fetch a new one with gettoken');
    const key = this.byId.get(claims.keyId);
    return { caller: key ? keyCaller(key) : LOCAL_CALLER, corpId: claims.corpId };
  }
}

const sameMac = (given: Buffer, expected: Buffer) => given.length === expected.length && timingSafeEqual(given, expected);
