import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** The member's session on the alert pages, and the login's state while WeCom's web login runs. */
export const SESSION_COOKIE = 'wgw_member';
export const LOGIN_COOKIE = 'wgw_login';

/** The value of one cookie of a Cookie header. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  return new RegExp(`(?:^|;\\s*)${name}=([^;]*)`).exec(header ?? '')?.[1];
}

/**
 * A member identified by WeCom's web login, as a signed cookie value
 * (`<payload>.<HMAC-SHA256>`, both base64url): who and until when. The key is derived
 * (HKDF) from a secret every instance has (the alert app's secret), so any instance
 * reads another's sessions, and the secret itself never signs anything nor leaves.
 */
export class MemberSessions {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly options: { ttlMs: number; clock: () => number },
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'wecom-gateway', 'alert page member session', 32));
  }

  issue(userid: string): string {
    const payload = Buffer.from(JSON.stringify({ u: userid, e: this.options.clock() + this.options.ttlMs })).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The member a cookie value names, while its signature holds and it has not expired; undefined otherwise. */
  verify(value: string | undefined): string | undefined {
    const [payload, mac, ...rest] = (value ?? '').split('.');
    if (!payload || !mac || rest.length > 0) return undefined;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const { u, e } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { u?: unknown; e?: unknown };
      return typeof u === 'string' && typeof e === 'number' && e > this.options.clock() ? u : undefined;
    } catch {
      return undefined;
    }
  }

  /** A login's state: random, kept in a cookie of the browser that started it and checked when WeCom sends it back (CSRF). */
  static newState(): string {
    return randomBytes(16).toString('hex');
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
