import type { AlertRoute, AlertsConfig } from '../alerts/alerts-config';
import { FOLLOW_MS, type PhoneConfig } from '../alerts/phone/phone-config';
import type { AutoReplyRule, CallbackConfig } from '../callback/callback-config';
import type { ContactSink, ContactsConfig } from '../contacts/contacts-config';
import type { MediaConfig, SendConfig } from '../messages/messages-config';
import type { RedisConfig } from '../redis/redis-config';
import type { ProxySettings } from '../http/proxy';
import type { Config } from './config';
import type { Env } from './env-schema';

/** Each section of Config from the environment's variables (and the config file's part of it). */

export function redisSection(e: Env): RedisConfig {
  return {
    url: e.REDIS_URL,
    clusterNodes: e.REDIS_CLUSTER_NODES,
    sentinels: e.REDIS_SENTINELS,
    sentinelMaster: e.REDIS_SENTINEL_MASTER,
    waitReplicas: e.REDIS_WAIT_REPLICAS,
    commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    embeddedBinary: e.REDIS_SERVER_PATH,
    prefix: e.REDIS_PREFIX,
  };
}

/** What the HTTP server and its middleware read; `keyless`: no API keys, so by default only this machine is served. */
export function serverSection(e: Env, keyless: boolean) {
  return {
    port: e.PORT,
    host: e.HOST ?? (keyless ? '127.0.0.1' : '0.0.0.0'),
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    metricsToken: e.METRICS_TOKEN,
    maxConnections: e.MAX_CONNECTIONS,
    // A quarter: one address (a slowloris, a runaway pool) leaves three quarters to probes, WeCom's callbacks and other
    // callers. Not less: Node's fetch bursting 100 concurrent requests opens up to 200 sockets to one server.
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS ?? Math.max(1, Math.floor(e.MAX_CONNECTIONS / 4)),
    rateLimitPerMinute: e.API_RATE_LIMIT_PER_MINUTE,
    bodyLimit: e.BODY_LIMIT,
    accessLog: { level: e.ACCESS_LOG, sample: e.ACCESS_LOG_SAMPLE },
  } satisfies Partial<Config>;
}

/** The built-in simulator's settings; `sandbox` when no app has WeCom credentials. */
export function sandboxSection(e: Env, sandbox: boolean) {
  return {
    sandbox,
    simulatorPort: e.SIMULATOR_PORT ?? (e.PORT === 0 || e.PORT === 65535 ? 0 : e.PORT + 1),
    simulatorPublicUrl: e.SIMULATOR_PUBLIC_URL?.replace(/\/+$/, ''),
    simulatorMembers: e.SIMULATOR_MEMBERS,
  } satisfies Partial<Config>;
}

export function sendSection(e: Env): SendConfig {
  return {
    concurrency: e.SEND_CONCURRENCY,
    attempts: e.SEND_ATTEMPTS,
    retryBaseDelayMs: e.RETRY_BASE_DELAY_MS,
    duplicateCheckSeconds: e.DUPLICATE_CHECK_SECONDS,
    jobLockMs: e.JOB_LOCK_MS,
    memberQuota: e.MEMBER_QUOTA,
    robotQuota: e.ROBOT_QUOTA,
    share: e.SEND_SHARE ?? undefined,
    ratePerSecond: e.SEND_RATE_PER_SECOND,
    throttleMs: e.THROTTLE_45009_MS,
  };
}

export function mediaSection(e: Env): MediaConfig {
  return {
    concurrency: e.MEDIA_CONCURRENCY,
    downloadsPerKey: e.MEDIA_DOWNLOADS_PER_KEY,
    ...(e.MEDIA_MIN_BYTES_PER_SECOND > 0
      ? { minRate: { bytesPerSecond: e.MEDIA_MIN_BYTES_PER_SECOND, graceMs: e.MEDIA_MIN_RATE_GRACE_MS } }
      : {}),
  };
}

export function callbackSection(e: Env, autoReplies: AutoReplyRule[]): CallbackConfig {
  return {
    maxSkewSeconds: e.CALLBACK_MAX_SKEW_SECONDS,
    ipAllowlist: e.CALLBACK_IP_ALLOWLIST,
    trustProxy: e.TRUST_PROXY,
    inboundWebhookSecret: e.INBOUND_WEBHOOK_SECRET,
    autoReplies,
  };
}

/** CONTACT_SYNC_WEBHOOK_URL is the sink `default`, before the file's. */
export function contactsSection(e: Env, fileSinks: ContactSink[]): ContactsConfig {
  return {
    sinks: [
      ...(e.CONTACT_SYNC_WEBHOOK_URL ? [{ name: 'default', url: e.CONTACT_SYNC_WEBHOOK_URL, secret: e.CONTACT_SYNC_WEBHOOK_SECRET }] : []),
      ...fileSinks,
    ],
    piiKeys: e.CONTACTS_PII_KEYS ?? [],
    encryptionKey: e.CONTACTS_ENCRYPTION_KEY,
  };
}

export function alertsSection(e: Env, routes: AlertRoute[]): AlertsConfig {
  return {
    timeZone: e.ALERT_TIMEZONE,
    language: e.ALERT_LANGUAGE,
    keyLabels: e.ALERT_KEY_LABELS,
    maxAlertsPerMessage: e.ALERT_MAX_PER_MESSAGE,
    dedupeSeconds: e.STORM_DEDUPE_SECONDS,
    perRecipientPerMinute: e.STORM_PER_RECIPIENT_PER_MINUTE,
    routes,
    alertmanagerUrl: e.ALERTMANAGER_URL,
    grafanaAlertmanagerUrl: e.GRAFANA_ALERTMANAGER_URL,
    silenceDurations: e.ALERT_SILENCE_DURATIONS,
    ...(e.PUBLIC_URL ? { publicUrl: e.PUBLIC_URL } : {}),
    phone: phoneSection(e),
  };
}

export function phoneSection(e: Env): PhoneConfig {
  const { ALERT_PHONE_WEBHOOK_URL: url, ALERT_PHONE_WEBHOOK_SECRET: secret } = e;
  return {
    ...(e.ALERT_PHONE ? { mode: e.ALERT_PHONE } : {}),
    ...(url && secret ? { webhook: { url, secret } } : {}),
    followMs: FOLLOW_MS,
  };
}

/** The alert's member page: where WeCom's web login is (WECOM_OAUTH_BASE) and the gateway's address members open (PUBLIC_URL). */
export function webLoginSection(e: Env) {
  return { oauthBase: e.WECOM_OAUTH_BASE.replace(/\/+$/, ''), publicUrl: e.PUBLIC_URL };
}

/** HTTP_PROXY, HTTPS_PROXY, NO_PROXY: undefined when no proxy is set (NO_PROXY alone means nothing). */
export function proxySection(e: Env): ProxySettings | undefined {
  if (!e.HTTP_PROXY && !e.HTTPS_PROXY) return undefined;
  return { httpProxy: e.HTTP_PROXY, httpsProxy: e.HTTPS_PROXY, noProxy: e.NO_PROXY?.trim() };
}
