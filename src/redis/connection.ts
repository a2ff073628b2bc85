import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from './redis-config';
import type { RedisClient } from './scripts';

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

export function createRedis(config: RedisConfig, role: ConnectionRole, connectionName = 'wecom-gateway'): RedisClient {
  const fromUrl = optionsFromUrl(config.url);
  const common: RedisOptions = {
    connectionName,
    maxRetriesPerRequest: role === 'blocking' ? null : 1,
    enableOfflineQueue: role === 'blocking',
    // Under load many requests issue commands in the same tick: one socket write for all of them.
    enableAutoPipelining: role === 'command',
    connectTimeout: 2_000,
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
