import { z } from 'zod';
import { parseDuration, silenceDurationsSchema } from '../alerts/escalation-config';
import { parseApiKey, type ApiKey } from '../http/auth';
import { trustProxyProblem } from '../http/trust-proxy';
import { parseQuota, type BudgetLimit } from '../budgets/limit';
import { httpUrl } from '../http/url-schema';
import { aesKey } from '../wecom/app';
import { ROBOT_SEND_LIMIT } from '../wecom/limits';

export const DEFAULT_API_BASE = 'https://qyapi.weixin.qq.com';
export const ALL_WORKERS = ['api', 'send', 'inbound', 'sync', 'welcome', 'digest', 'alerts'];

const hostPort = z
  .string()
  .regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port')
  .transform((s) => {
    const [host, port] = s.split(':');
    return { host, port: Number(port) };
  });
const hostPortList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )
  .pipe(z.array(hostPort).min(1));
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
);
/** A number setting; zod's own message ("expected number, received NaN") does not say what would do. */
function wholeNumber(min: number, max?: number) {
  const error = `must be a whole number ${max === undefined ? `of at least ${min}` : `from ${min} to ${max}`}`;
  const atLeast = z.coerce.number({ error }).int({ error }).min(min, { error });
  return max === undefined ? atLeast : atLeast.max(max, { error });
}
/**
 * The variables that hold a secret (or may: a Redis or proxy URL with a password): kept in a
 * Secret, never in a ConfigMap or a manifest (deploy/kubernetes reads them from
 * one; test/integration/kubernetes.test.ts checks that it does, from this list).
 */
export const SECRET_VARIABLES = [
  'REDIS_URL',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'WECOM_AGENT_SECRET',
  'WECOM_CALLBACK_TOKEN',
  'WECOM_CALLBACK_AES_KEY',
  'WECOM_CUSTOMER_CONTACT_SECRET',
  'WECOM_ROBOTS',
  'GATEWAY_API_KEYS',
  'CONTACT_SYNC_WEBHOOK_SECRET',
  'CONTACTS_PII_KEYS',
  'CONTACTS_ENCRYPTION_KEY',
  'STATUS_CALLBACK_SECRET',
  'INBOUND_WEBHOOK_SECRET',
  'METRICS_TOKEN',
  'ALERT_PHONE_WEBHOOK_SECRET',
] as const;

export const envSchema = z.object({
  /** production: no silent sandbox (WeCom credentials required) and no throw-away embedded Redis, unless SANDBOX=1. */
  NODE_ENV: z.string().optional(),
  /** 1: the sandbox (simulator, embedded Redis) is wanted, even with NODE_ENV=production. */
  SANDBOX: z.enum(['0', '1'], { error: 'must be 1 (run the sandbox on purpose) or 0' }).optional(),
  PORT: wholeNumber(0, 65535).default(8080),
  /** Unset: all interfaces with keys, loopback only without (keyless mode is for one machine). */
  HOST: z.string().min(1).optional(),
  SIMULATOR_PORT: wholeNumber(0, 65535).optional(),
  SIMULATOR_PUBLIC_URL: httpUrl.optional(),
  /** The sandbox simulator's members: `*` (any well-formed userid) or userids, comma-separated; unset = its sample corp. */
  SIMULATOR_MEMBERS: z
    .string()
    .transform((s) =>
      s.trim() === '*'
        ? '*'
        : s
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean),
    )
    .pipe(
      z.union([
        z.literal('*'),
        z
          .array(z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'userids of 1-64 letters, digits, _ . @ -, comma-separated, or *'))
          .min(1, 'userids, comma-separated, or *'),
      ]),
    )
    .optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_MASTER: z.string().min(1).optional(),
  /**
   * Replicas that must confirm an accepted message or callback before the gateway answers (Redis WAIT); 0 = the master's word is enough.
   */
  REDIS_WAIT_REPLICAS: wholeNumber(0, 16).default(0),
  /**
   * How long one Redis command may take before the API gives up on it (503):
   * a stalled Redis answers nothing. Above WAIT's 1 s (REDIS_WAIT_REPLICAS).
   */
  REDIS_COMMAND_TIMEOUT_MS: wholeNumber(1_500, 60_000).default(2_000),
  REDIS_SERVER_PATH: z.string().min(1).default('redis-server'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('wgw'),
  WECOM_API_BASE: httpUrl.optional(),
  /** WeCom's web login (oauth2/authorize, reference §17) for the alert's member page; the sandbox points it at the simulator. */
  WECOM_OAUTH_BASE: httpUrl.default('https://open.weixin.qq.com'),
  /** The gateway's external base URL (https://gw.example.com): links to an alert's page, WeCom's web login, the phone adapter's answers. */
  PUBLIC_URL: httpUrl.transform((url) => url.replace(/\/+$/, '')).optional(),
  WECOM_TIMEOUT_MS: wholeNumber(100).default(10_000),
  WECOM_CORP_ID: z.string().min(1).optional(),
  WECOM_AGENT_ID: wholeNumber(1).optional(),
  WECOM_AGENT_SECRET: z.string().min(1).optional(),
  WECOM_CALLBACK_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9]{1,32}$/, 'must be 1-32 letters or digits')
    .optional(),
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
  /** Distinct users one key may name an hour (what bounds the member budgets' Redis keys per key); 0 = no cap. */
  KEY_RECIPIENTS_PER_HOUR: wholeNumber(0).default(2_000),
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
  /** A robot key's budget (WeCom: 20 a minute); one count/seconds pair. */
  ROBOT_QUOTA: z
    .string()
    .transform((text, ctx) => {
      const parsed = parseQuota(text);
      if (typeof parsed === 'string' || parsed.length !== 1)
        ctx.addIssue({ code: 'custom', message: typeof parsed === 'string' ? parsed : 'one count/seconds, e.g. 20/60' });
      return (parsed as BudgetLimit[])[0];
    })
    .default({ ...ROBOT_SEND_LIMIT }),
  /**
   * Parts one key may queue per window at the priority it asked; beyond,
   * they wait behind other keys' (budgets/send-share.ts). `off`: no share.
   */
  SEND_SHARE: z
    .string()
    .transform((text, ctx) => {
      const parsed = parseQuota(text);
      // null, not undefined: zod puts the default in place of an undefined result.
      if (Array.isArray(parsed) && parsed.length === 0) return null;
      // Counted in whole-second windows (rate-limiter-flexible's Redis expiry).
      if (typeof parsed === 'string' || parsed.length !== 1 || parsed[0].windowMs % 1000 !== 0) {
        ctx.addIssue({ code: 'custom', message: typeof parsed === 'string' ? parsed : 'one count/whole seconds, e.g. 100/10, or off' });
        return null;
      }
      return parsed[0];
    })
    .default({ count: 100, windowMs: 10_000 }),
  JOB_LOCK_MS: wholeNumber(1_000).default(30_000),
  DUPLICATE_CHECK_SECONDS: wholeNumber(0, 14_400).default(600),
  MESSAGE_RETENTION_DAYS: z.coerce.number().positive().default(7),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'expected e.g. 512kb or 1mb')
    .default('1mb'),
  WORKERS: csv.pipe(z.array(z.enum(ALL_WORKERS as [string, ...string[]]))).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  ACCESS_LOG: z.enum(['info', 'debug', 'off']).default('info'),
  ACCESS_LOG_SAMPLE: z.coerce.number().min(0).max(1).default(1),
  CONTACT_SYNC_WEBHOOK_URL: httpUrl.optional(),
  INBOUND_WEBHOOK_URL: httpUrl.optional(),
  /** Parsed in robots.ts: its problems must never quote a value (robot keys are credentials). */
  WECOM_ROBOTS: z.string().optional(),
  CONTACT_SYNC_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  CONTACTS_PII_KEYS: csv.optional(),
  CONTACTS_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  ALERT_TIMEZONE: z.string().refine(isTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai)').default('Asia/Shanghai'),
  ALERT_MAX_PER_MESSAGE: wholeNumber(1, 50).default(5),
  /** Alertmanager's base URL (its API is {ALERTMANAGER_URL}/api/v2): Alertmanager alerts' cards get silence buttons that silence there. */
  ALERTMANAGER_URL: httpUrl.optional(),
  /** The Alertmanager-compatible API that owns Grafana's alerts (Grafana's own: http://grafana:3000/api/alertmanager/grafana). */
  GRAFANA_ALERTMANAGER_URL: httpUrl.optional(),
  /** The language of the shipped alert templates: zh (alert.notification) or en (alert.notification.en). */
  ALERT_LANGUAGE: z.enum(['zh', 'en']).default('zh'),
  /** The label that tells an alert apart on cards and in digests: the first of these an alert carries. */
  ALERT_KEY_LABELS: csv
    .pipe(z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a label name')).min(1))
    .default(['instance', 'pod', 'host', 'service']),
  ALERT_SILENCE_DURATIONS: csv.pipe(silenceDurationsSchema).default(['1h', '4h'].map((text) => parseDuration(text)!)),
  /** How an escalation level's `call` rings: WeCom's 紧急通知, or a signed webhook to an adapter; unset, no level may call. */
  ALERT_PHONE: z.enum(['wecom', 'webhook']).optional(),
  ALERT_PHONE_WEBHOOK_URL: httpUrl.optional(),
  /** The HMAC key of the call webhook and of the adapter's answers. */
  ALERT_PHONE_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  STORM_DEDUPE_SECONDS: wholeNumber(0).default(300),
  STORM_PER_RECIPIENT_PER_MINUTE: wholeNumber(0).default(10),
  WELCOME_TIMEZONE: z.string().refine(isTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai)').default('Asia/Shanghai'),
  WECOM_CUSTOMER_CONTACT_SECRET: z.string().min(1).optional(),
  STATUS_CALLBACK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  INBOUND_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  CALLBACK_MAX_SKEW_SECONDS: wholeNumber(0, 3_600).default(300),
  CALLBACK_IP_ALLOWLIST: z.enum(['off', 'wecom']).default('off'),
  TRUST_PROXY: z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      const problem = trustProxyProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** Addresses (CIDRs) or host names that callers' URLs may reach although the egress policy refuses them (loopback, link-local…). */
  EGRESS_ALLOW: csv.optional(),
  /** Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10): an internal gateway's callers usually live there. */
  EGRESS_PRIVATE: z.enum(['allow', 'deny']).default('allow'),
  /** A whole download or status callback, connect to last byte. */
  EGRESS_TIMEOUT_MS: wholeNumber(100).default(30_000),
  /** The forward proxy every call to WeCom (and to callers' URLs) leaves through; http_proxy etc. are read too (sources.ts). */
  HTTP_PROXY: httpUrl.optional(),
  HTTPS_PROXY: httpUrl.optional(),
  /** Hosts reached directly although a proxy is set: `host`, `.suffix`, `host:port`, `*`; comma-separated. */
  NO_PROXY: z.string().optional(),
  /** File downloads and uploads this instance runs at once (the media queue, apart from the send workers). */
  MEDIA_CONCURRENCY: wholeNumber(1, 1000).default(8),
  /** One caller key's downloads at once, over every instance: the rest of its files wait, other keys' go on. */
  MEDIA_DOWNLOADS_PER_KEY: wholeNumber(1, 1000).default(2),
  /** The slowest download accepted (bytes a second; 0 = no minimum): a slower one fails as "too slow", not retried. */
  MEDIA_MIN_BYTES_PER_SECOND: wholeNumber(0).default(16_384),
  /** How far behind that rate a download may start (connecting, the server preparing the file). */
  MEDIA_MIN_RATE_GRACE_MS: wholeNumber(0).default(5_000),
  /** Given, GET /metrics asks for `Authorization: Bearer METRICS_TOKEN`. */
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  /** Failed authentications per source address and minute before it gets 429. */
  AUTH_FAILURES_PER_MINUTE: wholeNumber(1).default(10),
  /** Open connections the HTTP server holds at most. */
  MAX_CONNECTIONS: wholeNumber(1).default(1_000),
  /**
   * Open connections one remote address holds at most (TRUST_PROXY's proxies excepted); unset: a quarter of MAX_CONNECTIONS; 0 = no limit.
   */
  MAX_CONNECTIONS_PER_ADDRESS: wholeNumber(0).optional(),
});

export type Env = z.infer<typeof envSchema>;

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
