import { createServer, type RequestListener, type Server } from 'node:http';
import { isIPv4, isIPv6, type Socket } from 'node:net';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics';

export interface ServerLimits {
  /** A whole request, first byte to last: a slow sender cannot hold a socket longer. */
  requestTimeoutMs: number;
  /** The request line and headers (slowloris). */
  headersTimeoutMs: number;
  /** An idle keep-alive socket: a little longer than common proxies' 4-5 s, so they close first. */
  keepAliveTimeoutMs: number;
  maxConnections: number;
  /** Sockets one client (an IPv4 address, an IPv6 /64) holds at most; 0 = no limit. */
  maxConnectionsPerAddress: number;
  /** Peers whose sockets carry many clients' requests (trusted proxies): only maxConnections bounds them. */
  sharedPeer?: (address: string) => boolean;
  /** Told of each socket refused over its client's share, so that a refusal is never silent. */
  onRefused?: (client: string) => void;
}

export const DEFAULT_SERVER_LIMITS: Omit<ServerLimits, 'maxConnections' | 'maxConnectionsPerAddress'> = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 6_000,
};

/**
 * An HTTP server that bounds what one client can hold: time per request and per
 * headers, idle sockets, sockets per client and sockets in all. Node checks the
 * two timeouts on an interval (30 s by default, which would triple a 10 s limit):
 * check every second.
 */
export function createLimitedServer(listener: RequestListener, limits: ServerLimits): Server {
  const server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    listener,
  );
  server.maxConnections = limits.maxConnections;
  if (limits.maxConnectionsPerAddress > 0)
    limitPerClient(
      server,
      { perClient: limits.maxConnectionsPerAddress, from: Math.floor(limits.maxConnections / 2) },
      limits.sharedPeer ?? (() => false),
      limits.onRefused,
    );
  return server;
}

/** How often, at most, refused sockets are logged: a hog retries in a loop, the log must not follow it. */
const REFUSALS_LOGGED_EVERY_MS = 60_000;

/**
 * The gateway's limits: MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS, and TRUST_PROXY's proxies
 * (the app's `trust proxy`) as shared peers; refusals are counted and logged (at most once a minute, by `report.clock`).
 */
export function gatewayServerLimits(
  config: { maxConnections: number; maxConnectionsPerAddress: number },
  app: Express,
  report?: { metrics: Metrics; logger: Logger; clock?: () => number },
): ServerLimits {
  const trusted = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
  let unlogged = 0;
  let loggedAt = -Infinity;
  const now = report?.clock ?? Date.now;
  const onRefused = (client: string) => {
    report!.metrics.connectionsRefused.inc();
    unlogged += 1;
    if (now() - loggedAt < REFUSALS_LOGGED_EVERY_MS) return;
    report!.logger.warn(
      { client, refused: unlogged },
      `refused connections: ${client} holds MAX_CONNECTIONS_PER_ADDRESS (${config.maxConnectionsPerAddress}) sockets ` +
        'while the server is half full',
    );
    unlogged = 0;
    loggedAt = now();
  };
  return {
    ...DEFAULT_SERVER_LIMITS,
    maxConnections: config.maxConnections,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    sharedPeer: (address) => trusted(address, 0),
    ...(report ? { onRefused } : {}),
  };
}

/**
 * Without it, one client holding MAX_CONNECTIONS slow sockets (each within the
 * timeouts, renewed as they expire) leaves none for kubelet's probes or WeCom's
 * callbacks. A client's share applies once `from` sockets are open in all, so an
 * honest burst (fetch opens a socket per request in flight) is never cut while
 * there is room, and a hog never holds more than half. A socket beyond the share
 * is destroyed at once: cheaper than an answer, and the client learns the same.
 */
function limitPerClient(
  server: Server,
  limit: { perClient: number; from: number },
  sharedPeer: (address: string) => boolean,
  onRefused?: (client: string) => void,
): void {
  const open = new Map<string, number>();
  let total = 0;
  server.on('connection', (socket: Socket) => {
    total += 1;
    socket.once('close', () => (total -= 1));
    const address = socket.remoteAddress;
    if (address === undefined || sharedPeer(address)) return;
    const client = clientOf(address);
    const count = (open.get(client) ?? 0) + 1;
    if (count > limit.perClient && total > limit.from) {
      socket.destroy();
      return onRefused?.(client);
    }
    open.set(client, count);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  });
}

/**
 * Whom a peer address stands for: an IPv4 address (IPv4-mapped IPv6
 * included), or an IPv6 /64, which one host can pick addresses from at will.
 */
export function clientOf(address: string): string {
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  if (!isIPv6(address)) return address;
  const [head, tail] = address.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
