import type { Server } from 'node:http';

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

/** Bounds what one client can hold of the HTTP server: time per request and headers, idle sockets, and sockets in all. */
export function applyServerLimits(server: Server, limits: ServerLimits): Server {
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  return server;
}
