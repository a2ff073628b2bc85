import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { keyProblem, MAKE_A_KEY, PERMISSIONS, type ApiKey } from '../http/auth';
import type { WecomApp } from '../wecom/app';
import type { Config } from './config';
import { ALL_WORKERS, DEFAULT_API_BASE, envSchema } from './env-schema';
import { fileSchema } from './file-schema';
import { loadRobots } from './robots';
import { egressAllowProblem } from '../http/egress';
import { trustProxyWarning } from '../http/trust-proxy';

/** Start-up stops with one line per problem; no line ever contains a secret's value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    // One problem, one line (what a log collector shows of a pod that exits); several, one line each.
    super(problems.length === 1 ? `invalid configuration: ${problems[0]}` : `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

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

type FileApiKey = NonNullable<z.infer<typeof fileSchema>['apiKeys']>[number];

/**
 * The config file's keys, each with its name as id and what it may send, after
 * GATEWAY_API_KEYS (unrestricted). Problems name the entry, never a key's value.
 */
function loadApiKeys(envKeys: ApiKey[], entries: FileApiKey[], filePath: string | undefined, known: { apps: string[]; robots: string[] }, problems: string[]): ApiKey[] {
  const at = (i: number, field?: string) => `${filePath}: apiKeys.${i}${field ? `.${field}` : ''}`;
  const keys = envKeys.map((key, n) => ({ key, where: `GATEWAY_API_KEYS: key ${n + 1}` }));
  entries.forEach((entry, i) => {
    let key = entry.key;
    if (entry.keyFile !== undefined) {
      const path = resolve(dirname(filePath!), entry.keyFile);
      try {
        key = readFileSync(path, 'utf8').trim();
      } catch {
        problems.push(`${at(i, 'keyFile')}: cannot read ${path}`);
        return;
      }
    }
    const problem = keyProblem(key!);
    if (problem) {
      problems.push(`${at(i, entry.keyFile === undefined ? 'key' : 'keyFile')}: ${problem}`);
      return;
    }
    // Only the apps and robots configured can be named (the sandbox's app is "default").
    const apps = known.apps.length > 0 ? known.apps : ['default'];
    entry.apps?.filter((app) => !apps.includes(app)).forEach((app) => problems.push(`${at(i, 'apps')}: no app is named ${app}`));
    entry.robots?.filter((robot) => !known.robots.includes(robot)).forEach((robot) => problems.push(`${at(i, 'robots')}: no robot is named ${robot}`));
    const permissions = new Set(entry.permissions ?? PERMISSIONS);
    // "@all" reaches everyone: a key described here must be given it explicitly.
    const scope = { allowAll: entry.allowAll ?? false, apps: entry.apps, events: entry.events, robots: entry.robots, chats: entry.chats, recipientsPerHour: entry.recipientsPerHour, highPriority: entry.highPriority };
    keys.push({ key: { id: entry.name, key: key!, permissions, scope, ...(entry.alertOwner ? { alertOwner: entry.alertOwner } : {}) }, where: at(i) });
  });
  const ids = new Set<string>();
  const values = new Set<string>();
  for (const { key, where } of keys) {
    // A name may not pass for another key's id: records and idempotency keys are filed under it.
    if (ids.has(key.id)) problems.push(`${where}: the id ${key.id} is used twice`);
    if (values.has(key.key)) problems.push(`${where}: the same key is listed twice (give each caller a key of its own)`);
    ids.add(key.id);
    values.add(key.key);
  }
  return keys.map(({ key }) => key);
}

/**
 * Keyless mode is for the sandbox: with real WeCom credentials anyone on the host
 * could send as the app. The process entries refuse it (server) or report it
 * (doctor); loadConfig does not, so tests may build keyless gateways on the simulator.
 */
export function keylessProblem(config: Pick<Config, 'apiKeys' | 'apps' | 'callbackOnly'>): string | undefined {
  if (config.apiKeys.length > 0 || (config.apps.length === 0 && !config.callbackOnly)) return undefined;
  return `GATEWAY_API_KEYS: required with WeCom credentials (keyless mode is for the sandbox: any local process could send as the app); ${MAKE_A_KEY}`;
}

/**
 * In production a missing setting must stop the start, not quietly swap WeCom for
 * the simulator or Redis for a temporary folder: each pod would otherwise "send"
 * into its own simulator, or keep accepted messages where a restart loses them.
 */
function productionProblems(e: Pick<z.infer<typeof envSchema>, 'WECOM_CORP_ID' | 'WECOM_AGENT_ID' | 'WECOM_AGENT_SECRET' | 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES'>, hasApps: boolean): string[] {
  const production = 'required in production (NODE_ENV=production)';
  if (!hasApps) {
    const missing = (['WECOM_CORP_ID', 'WECOM_AGENT_ID', 'WECOM_AGENT_SECRET'] as const).filter((name) => e[name] === undefined);
    return [`${missing.join(', ')}: ${production}; without them the gateway would run the built-in WeCom simulator and deliver nothing (set SANDBOX=1 to run the sandbox on purpose)`];
  }
  if (!e.REDIS_URL && !e.REDIS_SENTINELS && !e.REDIS_CLUSTER_NODES) {
    return [`REDIS_URL: ${production} (or REDIS_SENTINELS, REDIS_CLUSTER_NODES); without it the gateway would start a redis-server whose data lives in a temporary folder, and a restart would lose accepted messages`];
  }
  return [];
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
  for (const entry of e.EGRESS_ALLOW ?? []) {
    const problem = egressAllowProblem(entry);
    if (problem) problems.push(problem);
  }
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) problems.push('REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS');
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) problems.push('REDIS_SENTINELS: choose Sentinel or Cluster, not both');
  // WAIT counts the replicas of the node a connection talks to; a Cluster client's keys live on several masters.
  if (e.REDIS_WAIT_REPLICAS > 0 && e.REDIS_CLUSTER_NODES) problems.push('REDIS_WAIT_REPLICAS: not supported with REDIS_CLUSTER_NODES (use a standalone or Sentinel master)');
  const defaultApp = file.defaultApp ?? apps[0]?.name ?? 'default';
  if (apps.length > 0 && !names.has(defaultApp)) problems.push(`defaultApp: no app is named "${defaultApp}"`);
  const apiBase = (e.WECOM_API_BASE ?? DEFAULT_API_BASE).replace(/\/+$/, '');
  const robots = loadRobots({ env: e.WECOM_ROBOTS, file: file.robots, filePath: e.GATEWAY_CONFIG }, apiBase, DEFAULT_API_BASE, problems);
  const robotNames = new Set(robots.map((r) => r.name));
  (file.alertRoutes ?? []).forEach((route, i) => {
    const unknownRobots = (names: string[] | undefined, path: string) => names?.filter((name) => !robotNames.has(name)).forEach((name) => problems.push(`${e.GATEWAY_CONFIG}: alertRoutes.${i}.${path}: no robot is named ${name}`));
    unknownRobots(route.robots, 'robots');
    if (route.fallback && route.match) problems.push(`${e.GATEWAY_CONFIG}: alertRoutes.${i}.fallback: a fallback route takes what no route matches: leave its match out`);
    route.escalation?.forEach((level, l) => unknownRobots(level.to.robots, `escalation.${l}.to.robots`));
  });
  const fallbacks = (file.alertRoutes ?? []).filter((route) => route.fallback).map((route) => route.name);
  if (fallbacks.length > 1) problems.push(`${e.GATEWAY_CONFIG}: alertRoutes: only one route may be the fallback (${fallbacks.join(', ')} say so)`);
  // Partly given credentials are already named above, one line each.
  const partlyGiven = !callbackOnly && givenWecomVars.length > 0 && givenWecomVars.length < wecomVars.length;
  if (e.NODE_ENV === 'production' && e.SANDBOX !== '1' && !partlyGiven) problems.push(...productionProblems(e, apps.length > 0));
  const apiKeys = loadApiKeys(e.GATEWAY_API_KEYS ?? [], file.apiKeys ?? [], e.GATEWAY_CONFIG, { apps: [...names], robots: [...robotNames] }, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    port: e.PORT,
    host: e.HOST ?? (apiKeys.length === 0 ? '127.0.0.1' : '0.0.0.0'),
    redis: {
      url: e.REDIS_URL,
      clusterNodes: e.REDIS_CLUSTER_NODES,
      sentinels: e.REDIS_SENTINELS,
      sentinelMaster: e.REDIS_SENTINEL_MASTER,
      waitReplicas: e.REDIS_WAIT_REPLICAS,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
      embeddedBinary: e.REDIS_SERVER_PATH,
      prefix: e.REDIS_PREFIX,
    },
    sandbox: apps.length === 0,
    simulatorPort: e.SIMULATOR_PORT ?? (e.PORT === 0 || e.PORT === 65535 ? 0 : e.PORT + 1),
    simulatorPublicUrl: e.SIMULATOR_PUBLIC_URL?.replace(/\/+$/, ''),
    simulatorMembers: e.SIMULATOR_MEMBERS,
    ...(callbackOnly && apps.length === 0 ? { callbackOnly } : {}),
    wecom: { apiBase, timeoutMs: e.WECOM_TIMEOUT_MS, recheckMs: 30_000 },
    apps,
    robots,
    defaultApp,
    apiKeys,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    egress: { allow: e.EGRESS_ALLOW ?? [], privateRanges: e.EGRESS_PRIVATE, timeoutMs: e.EGRESS_TIMEOUT_MS },
    media: {
      concurrency: e.MEDIA_CONCURRENCY,
      downloadsPerKey: e.MEDIA_DOWNLOADS_PER_KEY,
      ...(e.MEDIA_MIN_BYTES_PER_SECOND > 0 ? { minRate: { bytesPerSecond: e.MEDIA_MIN_BYTES_PER_SECOND, graceMs: e.MEDIA_MIN_RATE_GRACE_MS } } : {}),
    },
    metricsToken: e.METRICS_TOKEN,
    maxConnections: e.MAX_CONNECTIONS,
    // A quarter: one address (a slowloris, a runaway pool) leaves three quarters to probes, WeCom's callbacks and other
    // callers. Not less: Node's fetch bursting 100 concurrent requests opens up to 200 sockets to one server.
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS ?? Math.max(1, Math.floor(e.MAX_CONNECTIONS / 4)),
    rateLimitPerMinute: e.API_RATE_LIMIT_PER_MINUTE,
    recipientsPerHour: e.KEY_RECIPIENTS_PER_HOUR,
    templatesDir: e.TEMPLATES_DIR,
    send: {
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
    },
    retentionSeconds: Math.round(e.MESSAGE_RETENTION_DAYS * 86_400),
    statusCallbackSecret: e.STATUS_CALLBACK_SECRET,
    bodyLimit: e.BODY_LIMIT,
    workers: new Set(e.WORKERS ?? ALL_WORKERS),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    accessLog: { level: e.ACCESS_LOG, sample: e.ACCESS_LOG_SAMPLE },
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
      language: e.ALERT_LANGUAGE,
      keyLabels: e.ALERT_KEY_LABELS,
      maxAlertsPerMessage: e.ALERT_MAX_PER_MESSAGE,
      dedupeSeconds: e.STORM_DEDUPE_SECONDS,
      perRecipientPerMinute: e.STORM_PER_RECIPIENT_PER_MINUTE,
      routes: file.alertRoutes ?? [],
      alertmanagerUrl: e.ALERTMANAGER_URL,
      grafanaAlertmanagerUrl: e.GRAFANA_ALERTMANAGER_URL,
      silenceDurations: e.ALERT_SILENCE_DURATIONS,
    },
  };
}

/** What start-up warns about: downstream webhooks without an HMAC signature, alert cards that cannot work. */
export function startupWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.inboundWebhookUrl && !config.callback.inboundWebhookSecret) warnings.push('INBOUND_WEBHOOK_URL without INBOUND_WEBHOOK_SECRET: user messages are forwarded unsigned');
  for (const sink of config.contacts.sinks) {
    if (!sink.secret) warnings.push(`contact sink ${sink.name} has no secret (CONTACT_SYNC_WEBHOOK_SECRET, or secret: in the config file): its changes are posted unsigned`);
  }
  const app = config.apps.find((a) => a.name === config.defaultApp);
  const silenceTarget = config.alerts.alertmanagerUrl ? 'ALERTMANAGER_URL' : config.alerts.grafanaAlertmanagerUrl ? 'GRAFANA_ALERTMANAGER_URL' : config.alerts.routes.some((r) => r.alertmanager) ? 'an alert route\'s alertmanager' : undefined;
  if (silenceTarget && app && !app.callback) warnings.push(`${silenceTarget} is set but app ${app.name} has no callback (WECOM_CALLBACK_TOKEN, WECOM_CALLBACK_AES_KEY): its clicks could not reach the gateway, so alerts go out without ack and silence buttons`);
  const routes = config.alerts.routes;
  if (routes.length > 0 && !routes.some((r) => r.fallback)) warnings.push(`no alert route is the fallback (fallback: true): a notification that matches no route and names no recipients is refused with 503 (Alertmanager retries it) and counted in wecom_gateway_alerts_unrouted_total`);
  if (!config.sandbox && !config.statusCallbackSecret) warnings.push('no STATUS_CALLBACK_SECRET: final statuses sent to a request\'s callbackUrl are unsigned');
  const trustProxy = trustProxyWarning(config.callback.trustProxy);
  if (trustProxy) warnings.push(trustProxy);
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
