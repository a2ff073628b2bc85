import { createServer, type RequestListener, type Server } from 'node:http';

export interface ServerLimits {
  /** A whole request, first byte to last: a slow sender cannot hold a socket longer. */
  requestTimeoutMs: number;
  /** The request line and headers (slowloris). */
  headersTimeoutMs: number;
  /** An idle keep-alive socket: a little longer than common proxies' 4-5 s, so they close first. */
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export const DEFAULT_SERVER_LIMITS: Omit<ServerLimits, 'maxConnections'> = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 6_000 };

/**
 * An HTTP server that bounds what one client can hold: time per request and per
 * headers, idle sockets, and sockets in all. Node checks the two timeouts on an
 * interval (30 s by default, which would triple a 10 s limit): check every second.
 */
export function createLimitedServer(listener: RequestListener, limits: ServerLimits): Server {
  const server = createServer({ requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.headersTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs, connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs) }, listener);
  server.maxConnections = limits.maxConnections;
  return server;
}
