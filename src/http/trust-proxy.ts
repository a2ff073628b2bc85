import { isIP } from 'node:net';

/**
 * TRUST_PROXY: which peers may name the caller in X-Forwarded-For (express'
 * `trust proxy`). The caller's address is what the failed-key throttle counts
 * and what the callback allowlist checks, so a peer trusted here can claim any.
 */

/** proxy-addr's names for ranges: loopback, link-local, and all of RFC 1918 / fc00::/7. */
const NAMED = new Set(['loopback', 'linklocal', 'uniquelocal']);
/** Ranges so wide that every host of a cluster or an office sits inside. */
const WHOLE_PRIVATE = new Set(['uniquelocal', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);

/** A hop count ("1"), "true"/"false", or a comma-separated list of names, addresses and CIDRs, as express reads it. */
export function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}

const entriesOf = (value: string) =>
  value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);

/** Why express could not read the value (it would stop the start with "invalid IP address"), or undefined. */
export function trustProxyProblem(value: string): string | undefined {
  if (typeof parseTrustProxy(value) !== 'string') return undefined;
  const unreadable = entriesOf(value).filter((entry) => {
    if (NAMED.has(entry)) return false;
    const [address, prefix, ...rest] = entry.split('/');
    if (!isIP(address) || rest.length > 0) return true;
    if (prefix === undefined) return false;
    // a netmask (255.255.0.0) will do too
    return !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (isIP(address) === 6 ? 128 : 32)) && isIP(prefix) !== 4;
  });
  return unreadable.length > 0
    ? `${unreadable.join(', ')}: not an address, a CIDR or loopback/linklocal/uniquelocal (e.g. 10.42.7.0/24)`
    : undefined;
}

/** A start-up warning when the value trusts more than the proxies: every peer, or a whole private range. */
export function trustProxyWarning(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = parseTrustProxy(value);
  const consequence =
    'any such peer can claim any address in X-Forwarded-For (to pass CALLBACK_IP_ALLOWLIST, or to dodge the failed-key ' +
    "throttle), and none is held to MAX_CONNECTIONS_PER_ADDRESS: name your proxies' addresses instead (docs/security.md)";
  if (parsed === true || typeof parsed === 'number') return `TRUST_PROXY=${value} treats every peer as a proxy: ${consequence}`;
  if (typeof parsed !== 'string') return undefined;
  const wide = entriesOf(parsed).filter((entry) => WHOLE_PRIVATE.has(entry));
  return wide.length > 0 ? `TRUST_PROXY trusts every private address (${wide.join(', ')}): ${consequence}` : undefined;
}
