import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from './redis-config';
import { typeUnavailability } from './unavailable';

/** A connection to a single Redis (or Sentinel's master) or to a Cluster: every room takes either. */
export type RedisClient = Redis | Cluster;

/**
 * `command` connections fail fast while Redis is away (the API answers 503 at
 * once instead of hanging); `blocking` connections are for BullMQ workers,
 * which must wait and reconnect on their own (maxRetriesPerRequest: null).
 */
export type ConnectionRole = 'command' | 'blocking';

function optionsFromUrl(url: string | undefined): RedisOptions {
  if (!url) return {};
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * A stalled Redis (SIGSTOP, a partition without RST) keeps the socket open and answers
 * nothing: without deadlines every caller hangs. A command unanswered for `ms` is
 * rejected; a socket silent that long while commands wait is cut, and with no retry
 * every command on it fails at once, as does each later one while it reconnects: a
 * route's second and third command do not wait `ms` each. A command the caller was
 * told had failed is never sent again behind its back on the next connection.
 * Only for command connections: BullMQ's blocking ones (BZPOPMIN, duplicated from
 * workerRedis) wait on purpose.
 */
function stallDeadlines(ms: number): RedisOptions {
  return { commandTimeout: ms, socketTimeout: ms, maxRetriesPerRequest: 0 };
}

export function createRedis(config: RedisConfig, role: ConnectionRole, connectionName = 'wecom-gateway'): RedisClient {
  const client = connect(config, role, connectionName);
  // What routes meet: a command that got no answer is a RedisUnavailableError (503), whatever ioredis' text.
  return role === 'command' ? typeUnavailability(client) : client;
}

function connect(config: RedisConfig, role: ConnectionRole, connectionName: string): RedisClient {
  const fromUrl = optionsFromUrl(config.url);
  const common: RedisOptions = {
    connectionName,
    enableOfflineQueue: role === 'blocking',
    // Under load many requests issue commands in the same tick: one socket write for all of them.
    enableAutoPipelining: role === 'command',
    connectTimeout: 2_000,
    ...(role === 'command' ? stallDeadlines(config.commandTimeoutMs) : { maxRetriesPerRequest: null }),
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
  if (config.clusterNodes) {
    const { host: _host, port: _port, ...credentials } = fromUrl;
    return new Cluster(config.clusterNodes, { redisOptions: { ...credentials, ...common }, enableOfflineQueue: common.enableOfflineQueue });
  }
  if (config.sentinels) {
    const { host: _host, port: _port, ...credentials } = fromUrl;
    // failoverDetector: leave the old master as soon as the Sentinels announce +switch-master. Without
    // it a connection stays on the old master, whose writes are lost, until Sentinel demotes it (seconds later).
    return new Redis({ ...credentials, ...common, sentinels: config.sentinels, name: config.sentinelMaster, failoverDetector: true });
  }
  return new Redis({ ...fromUrl, ...common });
}

/** Resolves once the connection is usable, or rejects after `timeoutMs`. */
export function waitUntilReady(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
