import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors';
import { crossSiteRefusal, namesLocalHost } from './same-origin';

/** What a key may do: send messages, read state, operate (dead letters, dashboard). */
export type Permission = 'send' | 'read' | 'admin';
export const PERMISSIONS: Permission[] = ['send', 'read', 'admin'];

/** What a key may send, when the config file restricts it (apiKeys:); a list left out does not restrict. */
export interface KeyScope {
  apps?: string[];
  events?: string[];
  /** May send to "@all" (the app's whole visible range, or everyone in a group). */
  allowAll: boolean;
  robots?: string[];
  /** May ask for priority "high" in a request (templates' own "high" needs nothing). */
  highPriority?: boolean;
  /** App group chats (chatids) this key may read, change and send to although another key registered them. */
  chats?: string[];
  /** Distinct users it may name an hour, in place of KEY_RECIPIENTS_PER_HOUR; 0 = no cap. */
  recipientsPerHour?: number;
  /** Only ever false (the key opted out: its messages are never merged while they wait for a budget); absent: merged. */
  coalesce?: false;
}

/** Who is calling: an id that is not the key (a name from the config file, or a digest), what it may do and send. */
export interface Caller {
  id: string;
  permissions: Set<Permission>;
  /** Absent: unrestricted (GATEWAY_API_KEYS, keyless callers). */
  scope?: KeyScope;
  /** The config file shares this key's alert groups with every key naming the same owner; absent: its own id. */
  alertOwner?: string;
}

/** Whose alert groups a caller's notifications join, resolve and see. */
export function alertOwnerOf(caller: Caller): string {
  return caller.alertOwner ?? caller.id;
}

export interface ApiKey extends Caller {
  key: string;
}

/** Keyless mode's callers (loopback, no key): every permission. */
export const LOCAL_CALLER: Caller = { id: 'local', permissions: new Set(PERMISSIONS) };
/** The gateway's own messages (storm digests, extensions) are created by this id; no key can take it. */
export const GATEWAY_CALLER_ID = 'gateway';
export const RESERVED_KEY_NAMES = [LOCAL_CALLER.id, GATEWAY_CALLER_ID];

export const MAKE_A_KEY = 'make one with: openssl rand -hex 24';

/** Why a key value is refused, never quoting it; undefined when it will do. */
export function keyProblem(key: string): string | undefined {
  if (key.length < 16) return `a key must be at least 16 characters (${MAKE_A_KEY})`;
  // The examples the project ships start so; a copied example is a key everyone knows.
  if (/^change-me/i.test(key)) return `an example key ("change-me…") is not a key (${MAKE_A_KEY})`;
  return undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Whether a presented secret is this one, in constant time: digests have equal length, so neither the secret nor its length leaks. */
export function sameSecret(presented: string, secret: string): boolean {
  return timingSafeEqual(digest(presented), digest(secret));
}

/** A key's stable id when the config file gives it no name: enough of its digest to tell keys apart, useless to guess it. */
export function keyId(key: string): string {
  return digest(key).toString('hex').slice(0, 16);
}

/**
 * `GATEWAY_API_KEYS=k1,k2:send,k3:read+admin`: a key without a list may do
 * everything. Parsing lives here so config and auth agree on the format.
 */
export function parseApiKey(entry: string): ApiKey | string {
  const [key, list] = entry.split(':', 2);
  const problem = keyProblem(key ?? '');
  if (problem) return problem;
  if (list === undefined) return { id: keyId(key), key, permissions: new Set(PERMISSIONS) };
  const permissions = list.split('+').map((p) => p.trim());
  const unknown = permissions.filter((p) => !PERMISSIONS.includes(p as Permission));
  if (unknown.length > 0) return `unknown permission ${unknown.join(', ')} (use ${PERMISSIONS.join(', ')})`;
  return { id: keyId(key), key, permissions: new Set(permissions as Permission[]) };
}

/** The key a request presents: `Authorization: Bearer KEY`, or Basic with the key as password (for browsers). */
export function presentedKey(req: Request): string | undefined {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1) || undefined;
  }
  return undefined;
}

/** The caller a route serves: set by ApiKeys.require before any route that needs a permission. */
export function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

/** A key the config file restricts to some apps may act through those only: 403 naming `app`. */
export function requireAppInScope(caller: Caller | undefined, app: string): void {
  const apps = caller?.scope?.apps;
  if (!apps || apps.includes(app)) return;
  const message = `this key may not send through app ${app}`;
  throw new ApiError(403, 'forbidden', message, [{ field: 'app', message }]);
}

/** Failed authentications per source address (AuthFailureThrottle, in http/rate-limit.ts). */
export interface FailedAuthGuard {
  /** Counts a wrong key from the address: seconds it must wait before its next wrong one is even answered 401; 0 = none. */
  failed(address: string): Promise<number>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/**
 * Why a loopback request is not plainly local, or undefined. Behind a reverse proxy
 * every caller arrives from loopback, and a page on another site can rebind its
 * name to 127.0.0.1: both would get keyless mode's admin rights.
 */
function notPlainlyLocal(req: Request): string | undefined {
  const proxied = PROXY_HEADERS.find((name) => req.headers[name] !== undefined);
  if (proxied)
    return (
      `without GATEWAY_API_KEYS only direct local callers are served, and this request ` +
      `came through a proxy (${proxied}): set GATEWAY_API_KEYS to serve through one`
    );
  // The header's value is the caller's: it is not repeated back.
  if (!namesLocalHost(req.headers.host))
    return (
      'without GATEWAY_API_KEYS only local callers are served, and this request names another ' +
      'host (Host is not localhost, 127.0.0.1 or [::1]): set GATEWAY_API_KEYS to serve it'
    );
  return undefined;
}

/** Why keyless mode (no GATEWAY_API_KEYS) does not serve this request, or undefined: it serves plainly local callers only. */
export function keylessRefusal(req: Request): ApiError | undefined {
  if (!LOOPBACK.has(req.socket.remoteAddress ?? ''))
    return new ApiError(401, 'unauthorized', 'no GATEWAY_API_KEYS configured: only loopback callers are accepted');
  const refused = notPlainlyLocal(req);
  if (refused) return new ApiError(403, 'forbidden', refused);
  return crossSiteRefusal(
    req,
    "without GATEWAY_API_KEYS changes are taken from local programs and the gateway's own pages only, " +
      'and a page on another site sent this one (Origin, Sec-Fetch-Site): set GATEWAY_API_KEYS to serve it',
  );
}

/** The caller a key is: its id, never the key itself. */
export function keyCaller(key: ApiKey): Caller {
  return {
    id: key.id,
    permissions: key.permissions,
    ...(key.scope ? { scope: key.scope } : {}),
    ...(key.alertOwner ? { alertOwner: key.alertOwner } : {}),
  };
}

/**
 * Checks the caller's key in constant time (digests have equal length, so
 * timingSafeEqual never leaks the key length) and its permission. With no keys
 * configured only plainly local callers are served, with every permission.
 */
export class ApiKeys {
  private readonly digests: { digest: Buffer; key: ApiKey }[];

  constructor(
    keys: ApiKey[],
    private readonly guard: FailedAuthGuard,
  ) {
    this.digests = keys.map((key) => ({ digest: digest(key.key), key }));
  }

  find(presented: string | undefined): ApiKey | undefined {
    if (presented === undefined) return undefined;
    const given = digest(presented);
    let found: ApiKey | undefined;
    for (const entry of this.digests) if (timingSafeEqual(entry.digest, given)) found = entry.key;
    return found;
  }

  require(permission: Permission, options: { basicRealm?: boolean } = {}): RequestHandler {
    return async (req, res, next) => {
      if (this.digests.length === 0) {
        const refused = keylessRefusal(req);
        if (refused) return next(refused);
        res.locals.caller = LOCAL_CALLER;
        return next();
      }
      const presented = presentedKey(req);
      const key = this.find(presented);
      if (!key) {
        // Only wrong keys meet the guard. An address is many callers (NAT, a proxy, a pod's node): one's wrong keys must
        // not lock out another's right ones, and a right key never waits for Redis. Guessing is stopped by the keys'
        // length (keyProblem), not here; the guard keeps a misconfigured client, or a guesser, to 429 answers.
        // A missing key is a forgotten header, not a guess: it is not counted.
        const wait = presented === undefined ? 0 : await this.guard.failed(req.ip ?? req.socket.remoteAddress ?? '');
        if (wait > 0) {
          res.setHeader('Retry-After', String(wait));
          return next(
            new ApiError(
              429,
              'too_many_failures',
              `too many failed authentications from this address; retry in ${wait} s (a right key is served meanwhile)`,
            ),
          );
        }
        if (options.basicRealm) res.setHeader('WWW-Authenticate', 'Basic realm="wecom-gateway", charset="UTF-8"');
        return next(new ApiError(401, 'unauthorized', presented ? 'unknown key' : 'missing key (Authorization: Bearer KEY)'));
      }
      if (!key.permissions.has(permission)) return next(new ApiError(403, 'forbidden', `this key may not ${permission}`));
      res.locals.caller = keyCaller(key);
      return next();
    };
  }
}

/** A caller sees what it created (a message, an alert group its webhook opened); an admin sees everything. */
export function visibleTo(record: { createdBy: string }, caller: Caller): boolean {
  return caller.permissions.has('admin') || record.createdBy === caller.id;
}
