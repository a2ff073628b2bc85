import type { AccessLogOptions } from '../http/access-log';
import type { AlertsConfig } from '../alerts/alerts-config';
import type { CallbackConfig } from '../callback/callback-config';
import type { ContactsConfig } from '../contacts/contacts-config';
import type { ApiKey } from '../http/auth';
import type { LogFormat } from '../ops/logger';
import type { BudgetLimit } from '../budgets/limit';
import type { RedisConfig } from '../redis/redis-config';
import type { WecomApp } from '../wecom/app';
import type { Robot } from '../wecom/group-chat';

/** The whole configuration, as loadConfig (load.ts) assembles it from the environment and the config file. */
export interface Config {
  port: number;
  host: string;
  redis: RedisConfig;
  /** true when no WeCom credentials are configured: the built-in simulator stands in for WeCom. */
  sandbox: boolean;
  /** Where the sandbox's simulator listens (loopback): SIMULATOR_PORT, by default PORT + 1; 0 = any free port. */
  simulatorPort: number;
  /**
   * SIMULATOR_PUBLIC_URL: the simulator as a phone on the LAN reaches it, for QR
   * demos; given, the simulator listens on all interfaces (its /__sim controls too).
   */
  simulatorPublicUrl?: string;
  /** SIMULATOR_MEMBERS: the sandbox simulator's members (`*`: any userid); unset, its sample corp's. */
  simulatorMembers?: '*' | string[];
  /**
   * WECOM_CORP_ID with the callback Token and EncodingAESKey but no agent: the real
   * callback URL can be verified and receive pushes while sends go to the simulator.
   */
  callbackOnly?: Pick<WecomApp, 'corpId'> & { callback: NonNullable<WecomApp['callback']> };
  /** recheckMs: how soon an app that cannot reach WeCom is checked again. */
  wecom: { apiBase: string; timeoutMs: number; recheckMs: number };
  apps: WecomApp[];
  /** Group robots by name (WECOM_ROBOTS, robots: in the file); their keys are credentials. */
  robots: Robot[];
  defaultApp: string;
  apiKeys: ApiKey[];
  /** Failed authentications per source address and minute before 429. */
  authFailuresPerMinute: number;
  /** What URLs a caller supplies (media downloads, callbackUrl) may reach; configured URLs are trusted. */
  egress: { allow: string[]; privateRanges: 'allow' | 'deny'; timeoutMs: number };
  /** File downloads (media URLs), in a queue of their own: slots per instance and per key, the slowest transfer accepted. */
  media: { concurrency: number; downloadsPerKey: number; minRate?: { bytesPerSecond: number; graceMs: number } };
  /** Bearer token GET /metrics asks for; absent, /metrics is open (scrapers on the network). */
  metricsToken?: string;
  maxConnections: number;
  /** Sockets one remote address may hold (trusted proxies excepted); 0 = no limit. */
  maxConnectionsPerAddress: number;
  /** Requests per minute per key (per address without one); 0 = unlimited. */
  rateLimitPerMinute: number;
  /** Distinct users a key may name an hour (KEY_RECIPIENTS_PER_HOUR; a config-file key's recipientsPerHour wins); 0 = no cap. */
  recipientsPerHour: number;
  templatesDir: string;
  send: {
    concurrency: number;
    /** Total attempts of one send: the first plus retries of transient failures. */
    attempts: number;
    retryBaseDelayMs: number;
    /** WeCom's enable_duplicate_check window; covers our retry window so a retried send is not delivered twice. */
    duplicateCheckSeconds: number;
    /** WeCom calls per second for the send queue (all instances together); 0 = unlimited. */
    ratePerSecond: number;
    /** How long the send queue pauses after a 45009. */
    throttleMs: number;
    /** Per-member budget (WeCom drops the excess silently); empty = no budget. */
    memberQuota: BudgetLimit[];
    /** Per robot key (WeCom answers 45009 and delivers nothing beyond 20 a minute). */
    robotQuota: BudgetLimit;
    /** Parts per window each key queues at the priority it asked (beyond: after everyone's within theirs); absent = no share. */
    share?: BudgetLimit;
    /** How long a worker's claim on a job lasts without renewal: a crashed worker's jobs are retried after it. */
    jobLockMs: number;
  };
  retentionSeconds: number;
  /** HMAC key for the status callbacks (a request's callbackUrl). */
  statusCallbackSecret?: string;
  bodyLimit: string;
  workers: Set<string>;
  logLevel: string;
  /** auto: readable lines in a terminal, JSON otherwise. */
  logFormat: LogFormat;
  /** How successful requests are logged: ACCESS_LOG (info, debug, off) and ACCESS_LOG_SAMPLE (0–1). */
  accessLog: AccessLogOptions;
  contactSyncWebhookUrl?: string;
  inboundWebhookUrl?: string;
  callback: CallbackConfig;
  contacts: ContactsConfig;
  welcome: { timeZone: string; customerContactSecret?: string };
  alerts: AlertsConfig;
  /** Modules that register callback rules (absolute paths; the file lists them relative to itself). */
  extensions: string[];
  /** Members who read through the WeChat plugin (微信插件): markdown reaches them as the event's text form. */
  wechatReaders?: { users?: string[]; parties?: string[]; tags?: string[] };
}

/** The app a request names, or the default one. */
export function findApp(config: Pick<Config, 'apps' | 'defaultApp'>, name?: string): WecomApp | undefined {
  return config.apps.find((app) => app.name === (name ?? config.defaultApp));
}
