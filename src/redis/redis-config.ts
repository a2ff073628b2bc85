export interface RedisConfig {
  url?: string;
  clusterNodes?: { host: string; port: number }[];
  sentinels?: { host: string; port: number }[];
  sentinelMaster?: string;
  /** Replicas that must confirm what the gateway accepts before it answers (WAIT); 0 = none. */
  waitReplicas: number;
  /**
   * How long a command connection's command may go unanswered before it is
   * rejected (REDIS_COMMAND_TIMEOUT_MS): a stalled Redis gets a 503, not a hang.
   */
  commandTimeoutMs: number;
  /** The redis-server started when none of url, clusterNodes, sentinels is set (REDIS_SERVER_PATH). */
  embeddedBinary: string;
  /** Our keys start with `${prefix}:`; BullMQ's with `{${prefix}}` so Redis Cluster keeps each queue in one slot. */
  prefix: string;
}
