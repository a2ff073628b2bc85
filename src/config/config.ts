import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseApiKey, type ApiKey } from '../http/auth';
import { parseQuota } from '../quotas/member-budget';
import type { BudgetLimit } from '../redis/scripts';

/** One WeCom self-built app: its own secret, hence its own access_token (reference §0). */
export interface WecomApp {
  name: string;
  corpId: string;
  agentId: number;
  secret: string;
  /** receiveId: what WeCom puts after the message in the plaintext; the corp id, or a suite id for third-party apps. */
  callback?: { token: string; aesKey: string; receiveId?: string };
}

export interface RedisConfig {
  url?: string;
  clusterNodes?: { host: string; port: number }[];
  sentinels?: { host: string; port: number }[];
  sentinelMaster?: string;
  /** The redis-server started when none of url, clusterNodes, sentinels is set (REDIS_SERVER_PATH). */
  embeddedBinary: string;
  /** Our keys start with `${prefix}:`; BullMQ's with `{${prefix}}` so Redis Cluster keeps each queue in one slot. */
  prefix: string;
}

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
  /**
   * WECOM_CORP_ID with the callback Token and EncodingAESKey but no agent: the real
   * callback URL can be verified and receive pushes while sends go to the simulator.
   */
  callbackOnly?: Pick<WecomApp, 'corpId'> & { callback: NonNullable<WecomApp['callback']> };
  wecom: { apiBase: string; timeoutMs: number };
  apps: WecomApp[];
  defaultApp: string;
  apiKeys: ApiKey[];
  /** Requests per minute per key (per address without one); 0 = unlimited. */
  rateLimitPerMinute: number;
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
    /** How long a worker's claim on a job lasts without renewal: a crashed worker's jobs are retried after it. */
    jobLockMs: number;
  };
  retentionSeconds: number;
  /** HMAC key for the status callbacks (a request's callbackUrl). */
  statusCallbackSecret?: string;
  bodyLimit: string;
  workers: Set<string>;
  logLevel: string;
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

/** A named set of recipients for monitoring webhooks, chosen by `?route=` or by matching the payload. */
export interface AlertRoute {
  name: string;
  users?: string[];
  parties?: string[];
  tags?: string[];
  msgtype?: 'markdown' | 'text' | 'textcard';
  /** Event template to render with (default alert.notification). */
  event?: string;
  match?: { receiver?: string; labels?: Record<string, string> };
}

export interface AlertsConfig {
  timeZone: string;
  /** Alerts listed in one message; the rest become "+N more". */
  maxAlertsPerMessage: number;
  /** Identical notifications to the same recipients within this window are sent once. */
  dedupeSeconds: number;
  /** Notifications per recipient set per minute; beyond it they fold into one digest at the end of the minute. 0 = no limit. */
  perRecipientPerMinute: number;
  routes: AlertRoute[];
}

export interface ContactsConfig {
  /** Downstream systems that mirror the directory: CONTACT_SYNC_WEBHOOK_URL is the sink `default`. */
  sinks: { name: string; url: string; secret?: string }[];
  /** API keys that may read mobiles and emails unmasked; '*' = every authenticated caller. */
  piiKeys: string[];
  /** base64 of 32 bytes: the mirror is sealed with AES-256-GCM at rest. */
  encryptionKey?: string;
}

/** Keyword auto-replies answered in the callback's own response (passive encrypted reply, reference §5.5). */
export interface AutoReplyRule {
  app?: string;
  match: 'exact' | 'keyword' | 'regex';
  pattern: string;
  reply: string;
}

export interface CallbackConfig {
  /** Reject POSTs whose timestamp is further than this from now; 0 = off (URL verification is never checked). */
  maxSkewSeconds: number;
  /** `wecom`: accept callbacks only from WeCom's published callback IPs (getcallbackip), refreshed hourly. */
  ipAllowlist: 'off' | 'wecom';
  /** Express `trust proxy` value, needed behind a load balancer for the allowlist to see the caller's IP. */
  trustProxy?: string;
  inboundWebhookSecret?: string;
  autoReplies: AutoReplyRule[];
}

/** Start-up stops with one line per problem; no line ever contains a secret's value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export const DEFAULT_API_BASE = 'https://qyapi.weixin.qq.com';
const ALL_WORKERS = ['api', 'send', 'inbound', 'sync', 'welcome', 'digest'];

const hostPort = z
  .string()
  .regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port')
  .transform((s) => {
    const [host, port] = s.split(':');
    return { host, port: Number(port) };
  });
const hostPortList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(hostPort).min(1));
const csv = z.string().transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean));
const url = z.url({ protocol: /^https?$/ });
/** A number setting; zod's own message ("expected number, received NaN") does not say what would do. */
function wholeNumber(min: number, max?: number) {
  const error = `must be a whole number ${max === undefined ? `of at least ${min}` : `from ${min} to ${max}`}`;
  const atLeast = z.coerce.number({ error }).int({ error }).min(min, { error });
  return max === undefined ? atLeast : atLeast.max(max, { error });
}
const aesKey = z.string().regex(/^[A-Za-z0-9]{43}$/, 'must be exactly 43 letters or digits');

const envSchema = z.object({
  PORT: wholeNumber(0, 65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  SIMULATOR_PORT: wholeNumber(0, 65535).optional(),
  SIMULATOR_PUBLIC_URL: url.optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_MASTER: z.string().min(1).optional(),
  REDIS_SERVER_PATH: z.string().min(1).default('redis-server'),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('wgw'),
  WECOM_API_BASE: url.optional(),
  WECOM_TIMEOUT_MS: wholeNumber(100).default(10_000),
  WECOM_CORP_ID: z.string().min(1).optional(),
  WECOM_AGENT_ID: wholeNumber(1).optional(),
  WECOM_AGENT_SECRET: z.string().min(1).optional(),
  WECOM_CALLBACK_TOKEN: z.string().regex(/^[A-Za-z0-9]{1,32}$/, 'must be 1-32 letters or digits').optional(),
  WECOM_CALLBACK_AES_KEY: aesKey.optional(),
  GATEWAY_API_KEYS: csv
    .transform((entries, ctx) =>
      entries.map((entry, i) => {
        const parsed = parseApiKey(entry);
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: `key ${i + 1}: ${parsed}` });
        return parsed as ApiKey;
      }),
    )
    .optional(),
  API_RATE_LIMIT_PER_MINUTE: wholeNumber(0).default(6000),
  GATEWAY_CONFIG: z.string().min(1).optional(),
  TEMPLATES_DIR: z.string().min(1).default('./templates'),
  SEND_CONCURRENCY: wholeNumber(1, 1000).default(20),
  SEND_ATTEMPTS: wholeNumber(1, 20).default(4),
  RETRY_BASE_DELAY_MS: wholeNumber(0).default(1000),
  SEND_RATE_PER_SECOND: wholeNumber(0).default(0),
  THROTTLE_45009_MS: wholeNumber(100).default(60_000),
  MEMBER_QUOTA: z
    .string()
    .transform((text, ctx) => {
      const parsed = parseQuota(text);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
      return parsed as BudgetLimit[];
    })
    .default([
      { count: 30, windowMs: 60_000 },
      { count: 1000, windowMs: 3_600_000 },
    ]),
  JOB_LOCK_MS: wholeNumber(1_000).default(30_000),
  DUPLICATE_CHECK_SECONDS: wholeNumber(0, 14_400).default(600),
  MESSAGE_RETENTION_DAYS: z.coerce.number().positive().default(7),
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'expected e.g. 512kb or 1mb').default('1mb'),
  WORKERS: csv.pipe(z.array(z.enum(ALL_WORKERS as [string, ...string[]]))).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CONTACT_SYNC_WEBHOOK_URL: url.optional(),
  INBOUND_WEBHOOK_URL: url.optional(),
  CONTACT_SYNC_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  CONTACTS_PII_KEYS: csv.optional(),
  CONTACTS_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  ALERT_TIMEZONE: z.string().refine(isTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai)').default('Asia/Shanghai'),
  ALERT_MAX_PER_MESSAGE: wholeNumber(1, 50).default(5),
  STORM_DEDUPE_SECONDS: wholeNumber(0).default(300),
  STORM_PER_RECIPIENT_PER_MINUTE: wholeNumber(0).default(10),
  WELCOME_TIMEZONE: z.string().refine(isTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai)').default('Asia/Shanghai'),
  WECOM_CUSTOMER_CONTACT_SECRET: z.string().min(1).optional(),
  STATUS_CALLBACK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  INBOUND_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  CALLBACK_MAX_SKEW_SECONDS: wholeNumber(0).default(0),
  CALLBACK_IP_ALLOWLIST: z.enum(['off', 'wecom']).default('off'),
  TRUST_PROXY: z.string().min(1).optional(),
});

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const fileAppSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/),
  corpId: z.string().min(1),
  agentId: z.coerce.number().int().positive(),
  secret: z.string().min(1),
  callback: z.object({ token: z.string().regex(/^[A-Za-z0-9]{1,32}$/), aesKey, receiveId: z.string().min(1).optional() }).strict().optional(),
}).strict();
const autoReplySchema = z
  .object({
    app: z.string().optional(),
    match: z.enum(['exact', 'keyword', 'regex']).default('keyword'),
    pattern: z.string().min(1),
    reply: z.string().min(1),
  })
  .refine((rule) => rule.match !== 'regex' || isValidRegex(rule.pattern), { message: 'pattern is not a valid regular expression', path: ['pattern'] });

function isValidRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

const fileSchema = z.object({
  apps: z.array(fileAppSchema).optional(),
  autoReplies: z.array(autoReplySchema).optional(),
  alertRoutes: z
    .array(
      z.object({
        name: z.string().regex(/^[A-Za-z0-9_-]+$/),
        users: z.array(z.string()).optional(),
        parties: z.array(z.coerce.string()).optional(),
        tags: z.array(z.coerce.string()).optional(),
        msgtype: z.enum(['markdown', 'text', 'textcard']).optional(),
        event: z.string().optional(),
        match: z.object({ receiver: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }).strict().optional(),
      }).strict(),
    )
    .optional(),
  wechatReaders: z.object({ users: z.array(z.string()).optional(), parties: z.array(z.coerce.string()).optional(), tags: z.array(z.coerce.string()).optional() }).optional(),
  contactSinks: z.array(z.object({ name: z.string().regex(/^[A-Za-z0-9_-]+$/), url, secret: z.string().min(16).optional() })).optional(),
  defaultApp: z.string().optional(),
  extensions: z.array(z.string().min(1)).optional(),
}).strict(); // a misspelt key is a mistake to report, not a setting to ignore

/**
 * Reads `NAME` or, for secrets kept in files (Docker/Kubernetes secrets), `NAME_FILE`.
 * An empty value counts as unset so `FOO=` in a .env file does not trip validation.
 */
function readEnv(env: NodeJS.ProcessEnv, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (key.endsWith('_FILE') && !(key in envSchema.shape) && key.slice(0, -5) in envSchema.shape) {
      try {
        out[key.slice(0, -5)] = readFileSync(value, 'utf8').trim();
      } catch {
        problems.push(`${key}: cannot read file ${value}`);
      }
    } else if (key in envSchema.shape) {
      out[key] = value;
    }
  }
  return out;
}

function describeIssues(source: string, issues: z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) =>
    // A misspelt key is named itself ("wechatReader: unknown key"), not its parent.
    issue.code === 'unrecognized_keys' ? issue.keys.map((key) => `${source}${[...issue.path, key].join('.')}: unknown key`) : [`${source}${issue.path.join('.')}: ${issue.message}`],
  );
}

function loadFile(path: string, problems: string[]): z.infer<typeof fileSchema> {
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    problems.push(`GATEWAY_CONFIG: cannot read ${path} (${(error as Error).message.split('\n')[0]})`);
    return {};
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    problems.push(...describeIssues(`${path}: `, parsed.error.issues));
    return {};
  }
  return parsed.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const parsed = envSchema.safeParse(readEnv(env, problems));
  if (!parsed.success) problems.push(...describeIssues('', parsed.error.issues));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const file = e.GATEWAY_CONFIG ? loadFile(e.GATEWAY_CONFIG, problems) : {};
  const extensions = (file.extensions ?? []).map((path) => resolve(dirname(e.GATEWAY_CONFIG!), path));
  extensions.forEach((path, i) => existsSync(path) || problems.push(`${e.GATEWAY_CONFIG}: extensions.${i}: no file ${path}`));

  const apps: WecomApp[] = [...(file.apps ?? [])];
  const wecomVars = ['WECOM_CORP_ID', 'WECOM_AGENT_ID', 'WECOM_AGENT_SECRET'] as const;
  const givenWecomVars = wecomVars.filter((name) => e[name] !== undefined);
  const callbackOnly =
    e.WECOM_CORP_ID && e.WECOM_AGENT_ID === undefined && e.WECOM_AGENT_SECRET === undefined && e.WECOM_CALLBACK_TOKEN && e.WECOM_CALLBACK_AES_KEY
      ? { corpId: e.WECOM_CORP_ID, callback: { token: e.WECOM_CALLBACK_TOKEN, aesKey: e.WECOM_CALLBACK_AES_KEY } }
      : undefined;
  if (!callbackOnly && givenWecomVars.length > 0 && givenWecomVars.length < wecomVars.length) {
    for (const name of wecomVars) if (e[name] === undefined) problems.push(`${name}: required when ${givenWecomVars.join(', ')} is set`);
  }
  if (e.WECOM_CALLBACK_TOKEN !== undefined && e.WECOM_CALLBACK_AES_KEY === undefined) problems.push('WECOM_CALLBACK_AES_KEY: required when WECOM_CALLBACK_TOKEN is set');
  if (e.WECOM_CALLBACK_AES_KEY !== undefined && e.WECOM_CALLBACK_TOKEN === undefined) problems.push('WECOM_CALLBACK_TOKEN: required when WECOM_CALLBACK_AES_KEY is set');
  if (e.WECOM_CORP_ID && e.WECOM_AGENT_ID && e.WECOM_AGENT_SECRET) {
    apps.unshift({
      name: 'default',
      corpId: e.WECOM_CORP_ID,
      agentId: e.WECOM_AGENT_ID,
      secret: e.WECOM_AGENT_SECRET,
      callback: e.WECOM_CALLBACK_TOKEN && e.WECOM_CALLBACK_AES_KEY ? { token: e.WECOM_CALLBACK_TOKEN, aesKey: e.WECOM_CALLBACK_AES_KEY } : undefined,
    });
  }
  const names = new Set<string>();
  for (const app of apps) {
    if (names.has(app.name)) problems.push(`apps: the name "${app.name}" is used twice`);
    names.add(app.name);
  }
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) problems.push('REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS');
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) problems.push('REDIS_SENTINELS: choose Sentinel or Cluster, not both');
  const defaultApp = file.defaultApp ?? apps[0]?.name ?? 'default';
  if (apps.length > 0 && !names.has(defaultApp)) problems.push(`defaultApp: no app is named "${defaultApp}"`);
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    port: e.PORT,
    host: e.HOST,
    redis: {
      url: e.REDIS_URL,
      clusterNodes: e.REDIS_CLUSTER_NODES,
      sentinels: e.REDIS_SENTINELS,
      sentinelMaster: e.REDIS_SENTINEL_MASTER,
      embeddedBinary: e.REDIS_SERVER_PATH,
      prefix: e.REDIS_PREFIX,
    },
    sandbox: apps.length === 0,
    simulatorPort: e.SIMULATOR_PORT ?? (e.PORT === 0 || e.PORT === 65535 ? 0 : e.PORT + 1),
    simulatorPublicUrl: e.SIMULATOR_PUBLIC_URL?.replace(/\/+$/, ''),
    ...(callbackOnly && apps.length === 0 ? { callbackOnly } : {}),
    wecom: { apiBase: (e.WECOM_API_BASE ?? DEFAULT_API_BASE).replace(/\/+$/, ''), timeoutMs: e.WECOM_TIMEOUT_MS },
    apps,
    defaultApp,
    apiKeys: e.GATEWAY_API_KEYS ?? [],
    rateLimitPerMinute: e.API_RATE_LIMIT_PER_MINUTE,
    templatesDir: e.TEMPLATES_DIR,
    send: {
      concurrency: e.SEND_CONCURRENCY,
      attempts: e.SEND_ATTEMPTS,
      retryBaseDelayMs: e.RETRY_BASE_DELAY_MS,
      duplicateCheckSeconds: e.DUPLICATE_CHECK_SECONDS,
      jobLockMs: e.JOB_LOCK_MS,
      memberQuota: e.MEMBER_QUOTA,
      ratePerSecond: e.SEND_RATE_PER_SECOND,
      throttleMs: e.THROTTLE_45009_MS,
    },
    retentionSeconds: Math.round(e.MESSAGE_RETENTION_DAYS * 86_400),
    statusCallbackSecret: e.STATUS_CALLBACK_SECRET,
    bodyLimit: e.BODY_LIMIT,
    workers: new Set(e.WORKERS ?? ALL_WORKERS),
    logLevel: e.LOG_LEVEL,
    contactSyncWebhookUrl: e.CONTACT_SYNC_WEBHOOK_URL,
    inboundWebhookUrl: e.INBOUND_WEBHOOK_URL,
    callback: {
      maxSkewSeconds: e.CALLBACK_MAX_SKEW_SECONDS,
      ipAllowlist: e.CALLBACK_IP_ALLOWLIST,
      trustProxy: e.TRUST_PROXY,
      inboundWebhookSecret: e.INBOUND_WEBHOOK_SECRET,
      autoReplies: file.autoReplies ?? [],
    },
    contacts: {
      sinks: [
        ...(e.CONTACT_SYNC_WEBHOOK_URL ? [{ name: 'default', url: e.CONTACT_SYNC_WEBHOOK_URL, secret: e.CONTACT_SYNC_WEBHOOK_SECRET }] : []),
        ...(file.contactSinks ?? []),
      ],
      piiKeys: e.CONTACTS_PII_KEYS ?? [],
      encryptionKey: e.CONTACTS_ENCRYPTION_KEY,
    },
    welcome: { timeZone: e.WELCOME_TIMEZONE, customerContactSecret: e.WECOM_CUSTOMER_CONTACT_SECRET },
    wechatReaders: file.wechatReaders,
    extensions,
    alerts: {
      timeZone: e.ALERT_TIMEZONE,
      maxAlertsPerMessage: e.ALERT_MAX_PER_MESSAGE,
      dedupeSeconds: e.STORM_DEDUPE_SECONDS,
      perRecipientPerMinute: e.STORM_PER_RECIPIENT_PER_MINUTE,
      routes: file.alertRoutes ?? [],
    },
  };
}

/** Downstream webhooks that would go out without an HMAC signature: start-up warns about each. */
export function unsignedWebhooks(config: Config): string[] {
  const warnings: string[] = [];
  if (config.inboundWebhookUrl && !config.callback.inboundWebhookSecret) warnings.push('INBOUND_WEBHOOK_URL without INBOUND_WEBHOOK_SECRET: user messages are forwarded unsigned');
  for (const sink of config.contacts.sinks) {
    if (!sink.secret) warnings.push(`contact sink ${sink.name} has no secret (CONTACT_SYNC_WEBHOOK_SECRET, or secret: in the config file): its changes are posted unsigned`);
  }
  if (!config.sandbox && !config.statusCallbackSecret) warnings.push('no STATUS_CALLBACK_SECRET: final statuses sent to a request\'s callbackUrl are unsigned');
  return warnings;
}

/** For the command-line entries: the configuration, or one line per problem and exit 78 (EX_CONFIG). */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
}

/** The app a request names, or the default one. */
export function findApp(config: Pick<Config, 'apps' | 'defaultApp'>, name?: string): WecomApp | undefined {
  return config.apps.find((app) => app.name === (name ?? config.defaultApp));
}
