import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { portOf, type ProxySettings } from './proxy';

/** What URLs a caller supplies (media downloads, callbackUrl) may reach; configured URLs are trusted. */
export interface EgressConfig {
  /** EGRESS_ALLOW: addresses (CIDRs) or host names opened although the policy refuses them. */
  allow: string[];
  privateRanges: 'allow' | 'deny';
  /** A whole download or status callback, connect to last byte. */
  timeoutMs: number;
  /** The forward proxy callers' URLs leave through too (NO_PROXY's hosts direct); the policy is checked before it. */
  proxy?: ProxySettings;
}

/**
 * The egress policy: what a URL a caller supplies (a file message's media URL, a
 * request's callbackUrl) may reach. URLs the operator configured are trusted as
 * configured and never come here.
 */

export const EGRESS_REFUSED = 'refused by the egress policy';
export const NOT_HTTP = 'not an http(s) URL';
export const NO_REDIRECTS = 'redirects are not followed';

/** Never reachable unless EGRESS_ALLOW opens them: the host itself, link-local, no-one and everyone. */
const REFUSED: [string, number][] = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the host itself
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, 255.255.255.255 (broadcast) included
  ['::', 96], // "::" (unspecified), "::1" (loopback) and the deprecated IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1)
  ['fe80::', 10],
  ['ff00::', 8],
];
/** Where an internal gateway's callers usually live: allowed unless EGRESS_PRIVATE=deny. */
const PRIVATE: [string, number][] = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10], // carrier-grade NAT, also Tailscale's addresses
  ['fc00::', 7],
];
/** Cloud metadata services (AWS, GCP, Azure, Alibaba Cloud): credentials for whoever asks. */
const METADATA_ADDRESSES = ['169.254.169.254', '100.100.100.200', 'fd00:ec2::254'];
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);

/**
 * IPv6 prefixes that carry an IPv4 address and reach it: NAT64's well-known prefix
 * (64:ff9b::a.b.c.d, RFC 6052; DNS64 hands these out for IPv4-only hosts, so they
 * stay usable) and 6to4 (2002:AABB:CCDD::/48, RFC 3056, the site behind AA.BB.CC.DD).
 * Such an address is judged as the IPv4 it embeds (the group its first half-word is at).
 */
const EMBEDDING_IPV4: { network: string; prefix: number; at: number }[] = [
  { network: '64:ff9b::', prefix: 96, at: 6 },
  { network: '2002::', prefix: 16, at: 1 },
];

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

function blockList(ranges: [string, number][]): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ranges) list.addSubnet(network, prefix, familyOf(network));
  return list;
}

/** The eight 16-bit groups of an IPv6 address (the URL parser writes a dotted tail as hex and compresses zeros once). */
function ipv6Groups(address: string): number[] {
  const [head, tail] = new URL(`http://[${address}]/`).hostname.slice(1, -1).split('::');
  const groups = (text: string | undefined) => (text ? text.split(':').map((g) => parseInt(g, 16)) : []);
  const [front, back] = [groups(head), groups(tail)];
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** The IPv4 a NAT64 or 6to4 address reaches, or undefined. */
function embeddedIpv4(address: string, prefixes: { list: BlockList; at: number }[]): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const match = prefixes.find((p) => p.list.check(address, 'ipv6'));
  if (!match) return undefined;
  const groups = ipv6Groups(address);
  const [high, low] = [groups[match.at], groups[match.at + 1]];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** A URL's host as the policy compares it: no IPv6 brackets, no trailing dot, lower case. */
function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** The URL when it is an http(s) one: the only schemes a caller's URL may have. */
export function httpUrl(url: string): URL | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Names that mean this host (RFC 6761) whatever the resolver says. */
function isLocalName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.localdomain';
}

/** Why an EGRESS_ALLOW entry cannot be read (a CIDR, a single address or a host name), or undefined. */
export function egressAllowProblem(entry: string): string | undefined {
  const [network, prefix, ...rest] = entry.split('/');
  if (prefix === undefined)
    return /^[a-z0-9.:[\]-]+$/i.test(entry) ? undefined : `EGRESS_ALLOW: "${entry}" is neither an address nor a host name`;
  const bits = Number(prefix);
  const max = isIP(network) === 6 ? 128 : 32;
  if (rest.length > 0 || !isIP(network) || !/^\d+$/.test(prefix) || bits > max)
    return `EGRESS_ALLOW: "${entry}" is not a CIDR (e.g. 10.1.0.0/16)`;
  return undefined;
}

export class EgressRefusedError extends Error {
  constructor() {
    super(EGRESS_REFUSED);
    this.name = 'EgressRefusedError';
  }
}

export interface Listener {
  address: string;
  port: number;
}

/** Every local interface address with the gateway's port (unknown when PORT=0): a caller's URL must not loop back into the gateway. */
export function gatewayListeners(port: number): Listener[] {
  if (port === 0) return [];
  return Object.values(networkInterfaces()).flatMap((addresses) => (addresses ?? []).map((a) => ({ address: a.address, port })));
}

/** A name's addresses, all of them (the system resolver, IPv4 first). */
export type Resolve = (host: string) => Promise<{ address: string }[]>;
const systemResolve: Resolve = (host) => lookup(host, { all: true, order: 'ipv4first' });

export class EgressPolicy {
  private readonly refused = blockList(REFUSED);
  private readonly privateRanges = blockList(PRIVATE);
  private readonly metadata = new BlockList();
  private readonly allowed = new BlockList();
  /** Single addresses EGRESS_ALLOW names: only these open a metadata address (a range opened for a LAN must not). */
  private readonly allowedExactly = new BlockList();
  private readonly allowedNames = new Set<string>();
  private readonly listeners = new Map<number, BlockList>();
  private readonly embedding = EMBEDDING_IPV4.map(({ network, prefix, at }) => ({ list: blockList([[network, prefix]]), at }));

  constructor(
    private readonly settings: Pick<EgressConfig, 'allow' | 'privateRanges'>,
    listeners: Listener[] = [],
    private readonly resolve: Resolve = systemResolve,
  ) {
    for (const address of METADATA_ADDRESSES) this.metadata.addAddress(address, familyOf(address));
    for (const entry of settings.allow) {
      const problem = egressAllowProblem(entry);
      if (problem) throw new Error(problem);
      const [network, prefix] = entry.split('/');
      const host = bareHost(network);
      if (prefix !== undefined) this.allowed.addSubnet(host, Number(prefix), familyOf(host));
      else if (isIP(host)) {
        this.allowed.addAddress(host, familyOf(host));
        this.allowedExactly.addAddress(host, familyOf(host));
      } else this.allowedNames.add(host);
    }
    for (const { address, port } of listeners) {
      const list = this.listeners.get(port) ?? new BlockList();
      list.addAddress(address, familyOf(address));
      this.listeners.set(port, list);
    }
  }

  static fromConfig(config: { egress: EgressConfig; port: number }): EgressPolicy {
    return new EgressPolicy(config.egress, gatewayListeners(config.port));
  }

  /**
   * Why a caller's URL may not be fetched, judged without DNS (scheme, literal
   * addresses, names such as localhost or metadata.google.internal); undefined
   * when it may be tried. A name's addresses are checked again when it is fetched.
   */
  refusal(url: string): string | undefined {
    const parsed = httpUrl(url);
    if (!parsed) return NOT_HTTP;
    return this.hostRefused(bareHost(parsed.hostname), portOf(parsed)) ? EGRESS_REFUSED : undefined;
  }

  /**
   * Whether a connection to this address and port is refused. IPv4-mapped IPv6
   * (::ffff:a.b.c.d) is judged as its IPv4 (BlockList does so), and so are NAT64 and
   * 6to4 addresses (EGRESS_ALLOW and EGRESS_PRIVATE apply to the IPv4 they embed).
   */
  refusesAddress(address: string, port: number): boolean {
    const family = familyOf(address);
    // The gateway's own API stays closed even where EGRESS_ALLOW opens its address (keyless callers on loopback are admins).
    if (this.isListener(address, port)) return true;
    const embedded = embeddedIpv4(address, this.embedding);
    if (embedded) return this.refusesAddress(embedded, port);
    if (this.metadata.check(address, family)) return !this.allowedExactly.check(address, family);
    if (this.allowed.check(address, family)) return false;
    return this.refused.check(address, family) || (this.settings.privateRanges === 'deny' && this.privateRanges.check(address, family));
  }

  /**
   * The address to connect to for a host: resolved once, every address checked
   * (one refused address refuses the name: the answer is the attacker's to choose),
   * so that what is connected to is what was checked (no DNS rebinding).
   */
  async addressFor(hostname: string, port: number): Promise<string> {
    const host = bareHost(hostname);
    if (this.hostRefused(host, port)) throw new EgressRefusedError();
    if (isIP(host)) return host;
    const candidates = await this.resolve(host);
    const byName = this.allowedNames.has(host);
    const refused = (address: string) => (byName ? this.isListener(address, port) : this.refusesAddress(address, port));
    if (candidates.length === 0 || candidates.some((c) => refused(c.address))) throw new EgressRefusedError();
    return candidates[0].address;
  }

  private isListener(address: string, port: number): boolean {
    return this.listeners.get(port)?.check(address, familyOf(address)) ?? false;
  }

  private hostRefused(host: string, port: number): boolean {
    if (isIP(host)) return this.refusesAddress(host, port);
    if (this.allowedNames.has(host)) return false;
    return isLocalName(host) || METADATA_NAMES.has(host);
  }
}
