import type { AccessLogOptions } from '../http/access-log';
import type { AlertsConfig } from '../alerts/alerts-config';
import type { CallbackConfig } from '../callback/callback-config';
import type { ContactsConfig } from '../contacts/contacts-config';
import type { CoreSettings } from '../core';
import type { ApiKey } from '../http/auth';
import type { EgressConfig } from '../http/egress';
import type { MediaConfig, SendConfig } from '../messages/messages-config';
import type { ReaderList } from '../messages/recipients';
import type { OnCallSchedule } from '../oncall/schedule-config';
import type { LogFormat } from '../ops/logger';
import type { RedisConfig } from '../redis/redis-config';
import type { WecomApp } from '../wecom/app';
import type { Robot } from '../wecom/group-chat';
import type { WelcomeConfig } from '../welcome/welcome-config';

/**
 * The whole configuration, as loadConfig (load.ts) assembles it from the environment and the config file.
 * Each section's type is its room's; a flow is handed only what it reads (its own `…Settings`, which Config satisfies).
 */
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
  wecom: CoreSettings['wecom'];
  apps: WecomApp[];
  /** Group robots by name (WECOM_ROBOTS, robots: in the file); their keys are credentials. */
  robots: Robot[];
  defaultApp: string;
  apiKeys: ApiKey[];
  /** Failed authentications per source address and minute before 429. */
  authFailuresPerMinute: number;
  egress: EgressConfig;
  media: MediaConfig;
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
  send: SendConfig;
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
  welcome: WelcomeConfig;
  alerts: AlertsConfig;
  /** On-call schedules (the config file's `oncall:`), each with its time zone decided. */
  oncall: OnCallSchedule[];
  /** The alert's member page: WeCom's web login base (WECOM_OAUTH_BASE; the sandbox's simulator) and PUBLIC_URL. */
  webLogin: { oauthBase: string; publicUrl?: string };
  /** Modules that register callback rules (absolute paths; the file lists them relative to itself). */
  extensions: string[];
  /** Members who read through the WeChat plugin (微信插件): markdown reaches them as the event's text form. */
  wechatReaders?: ReaderList;
}
