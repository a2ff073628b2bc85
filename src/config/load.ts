import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MAKE_A_KEY } from '../http/auth';
import { trustProxyWarning } from '../http/trust-proxy';
import { findApp } from '../wecom/app';
import { loadApiKeys } from './api-keys';
import { defaultAppOf, loadApps, type LoadedApps } from './apps';
import { alertRouteProblems, egressProblems, oncallReferenceProblems, productionProblems, redisProblems } from './checks';
import type { Config } from './config';
import { phoneProblems } from '../alerts/phone/phone-config';
import { ALL_WORKERS, DEFAULT_API_BASE, type Env } from './env-schema';
import type { ConfigFile } from './file-schema';
import { oncallProblems, oncallSection } from '../oncall/schedule-config';
import { loadRobots } from './robots';
import {
  alertsSection,
  phoneSection,
  callbackSection,
  proxySection,
  contactsSection,
  mediaSection,
  redisSection,
  sandboxSection,
  sendSection,
  serverSection,
  webLoginSection,
} from './sections';
import { loadFile, parseEnv } from './sources';

/** Start-up stops with one line per problem; no line ever contains a secret's value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    // One problem, one line (what a log collector shows of a pod that exits); several, one line each.
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

/**
 * Keyless mode is for the sandbox: with real WeCom credentials anyone on the host
 * could send as the app. The process entries refuse it (server) or report it
 * (doctor); loadConfig does not, so tests may build keyless gateways on the simulator.
 */
export function keylessProblem(config: Pick<Config, 'apiKeys' | 'apps' | 'callbackOnly'>): string | undefined {
  if (config.apiKeys.length > 0 || (config.apps.length === 0 && !config.callbackOnly)) return undefined;
  return (
    'GATEWAY_API_KEYS: required with WeCom credentials (keyless mode is for the sandbox: any local process could send as the app); ' +
    MAKE_A_KEY
  );
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const e = parseEnv(env, problems);
  if (!e) throw new ConfigError(problems);
  const file = e.GATEWAY_CONFIG ? loadFile(e.GATEWAY_CONFIG, problems) : {};
  const parts = checkedParts(e, file, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return composeConfig(e, file, parts);
}

/** What loadConfig checks across sections before composing them, in the order its problems are listed. */
interface CheckedParts extends LoadedApps {
  extensions: string[];
  defaultApp: string;
  apiBase: string;
  robots: Config['robots'];
  apiKeys: Config['apiKeys'];
}

function checkedParts(e: Env, file: ConfigFile, problems: string[]): CheckedParts {
  const extensions = (file.extensions ?? []).map((path) => resolve(dirname(e.GATEWAY_CONFIG!), path));
  extensions.forEach((path, i) => existsSync(path) || problems.push(`${e.GATEWAY_CONFIG}: extensions.${i}: no file ${path}`));
  const loaded = loadApps(e, file.apps ?? [], problems);
  problems.push(...egressProblems(e.EGRESS_ALLOW), ...redisProblems(e));
  const defaultApp = defaultAppOf(file.defaultApp, loaded, problems);
  const apiBase = (e.WECOM_API_BASE ?? DEFAULT_API_BASE).replace(/\/+$/, '');
  const robots = loadRobots({ env: e.WECOM_ROBOTS, file: file.robots, filePath: e.GATEWAY_CONFIG }, apiBase, DEFAULT_API_BASE, problems);
  const robotNames = new Set(robots.map((r) => r.name));
  problems.push(...alertRouteProblems(file.alertRoutes ?? [], robotNames, e.GATEWAY_CONFIG));
  problems.push(...oncallProblems(file.oncall ?? [], robotNames, e.GATEWAY_CONFIG));
  const levels = (file.alertRoutes ?? []).map((r, i): [string, NonNullable<typeof r.escalation>] => [
    `${e.GATEWAY_CONFIG}: alertRoutes.${i}.escalation`,
    r.escalation ?? [],
  ]);
  problems.push(
    ...phoneProblems(
      phoneSection(e),
      { url: e.ALERT_PHONE_WEBHOOK_URL, secret: e.ALERT_PHONE_WEBHOOK_SECRET, publicUrl: e.PUBLIC_URL },
      levels,
    ),
  );
  const schedules = new Set((file.oncall ?? []).map((s) => s.name));
  problems.push(...oncallReferenceProblems(file.alertRoutes ?? [], schedules, e.GATEWAY_CONFIG));
  // Partly given credentials are already named, one line each.
  if (e.NODE_ENV === 'production' && e.SANDBOX !== '1' && !loaded.partlyGiven) {
    problems.push(...productionProblems(e, loaded.apps.length > 0));
  }
  const known = { apps: [...loaded.names], robots: [...robotNames] };
  const apiKeys = loadApiKeys(e.GATEWAY_API_KEYS ?? [], file.apiKeys ?? [], e.GATEWAY_CONFIG, known, problems);
  return { ...loaded, extensions, defaultApp, apiBase, robots, apiKeys };
}

/** Config from its sections, each built by its own function (sections.ts). */
function composeConfig(e: Env, file: ConfigFile, parts: CheckedParts): Config {
  const { apps, callbackOnly } = parts;
  const proxy = proxySection(e);
  return {
    ...serverSection(e, parts.apiKeys.length === 0),
    redis: redisSection(e),
    ...sandboxSection(e, apps.length === 0),
    ...(callbackOnly && apps.length === 0 ? { callbackOnly } : {}),
    wecom: { apiBase: parts.apiBase, timeoutMs: e.WECOM_TIMEOUT_MS, recheckMs: 30_000, proxy },
    apps,
    robots: parts.robots,
    defaultApp: parts.defaultApp,
    apiKeys: parts.apiKeys,
    egress: { allow: e.EGRESS_ALLOW ?? [], privateRanges: e.EGRESS_PRIVATE, timeoutMs: e.EGRESS_TIMEOUT_MS, proxy },
    media: mediaSection(e),
    recipientsPerHour: e.KEY_RECIPIENTS_PER_HOUR,
    templatesDir: e.TEMPLATES_DIR,
    send: sendSection(e),
    retentionSeconds: Math.round(e.MESSAGE_RETENTION_DAYS * 86_400),
    statusCallbackSecret: e.STATUS_CALLBACK_SECRET,
    workers: new Set(e.WORKERS ?? ALL_WORKERS),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    contactSyncWebhookUrl: e.CONTACT_SYNC_WEBHOOK_URL,
    inboundWebhookUrl: e.INBOUND_WEBHOOK_URL,
    callback: callbackSection(e, file.autoReplies ?? []),
    contacts: contactsSection(e, file.contactSinks ?? []),
    welcome: { timeZone: e.WELCOME_TIMEZONE, customerContactSecret: e.WECOM_CUSTOMER_CONTACT_SECRET },
    wechatReaders: file.wechatReaders,
    extensions: parts.extensions,
    alerts: alertsSection(e, file.alertRoutes ?? []),
    oncall: oncallSection(file.oncall ?? [], e.ALERT_TIMEZONE),
    webLogin: webLoginSection(e),
  };
}

/** What start-up warns about: downstream webhooks without an HMAC signature, alert cards that cannot work. */
export function startupWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.inboundWebhookUrl && !config.callback.inboundWebhookSecret)
    warnings.push('INBOUND_WEBHOOK_URL without INBOUND_WEBHOOK_SECRET: user messages are forwarded unsigned');
  for (const sink of config.contacts.sinks) {
    if (!sink.secret) {
      warnings.push(
        `contact sink ${sink.name} has no secret (CONTACT_SYNC_WEBHOOK_SECRET, or secret: in the config file): ` +
          'its changes are posted unsigned',
      );
    }
  }
  const cards = alertCardsWarning(config);
  if (cards) warnings.push(cards);
  const routes = config.alerts.routes;
  if (routes.length > 0 && !routes.some((r) => r.fallback)) {
    warnings.push(
      'no alert route is the fallback (fallback: true): a notification that matches no route and names no recipients is refused ' +
        'with 503 (Alertmanager retries it) and counted in wecom_gateway_alerts_unrouted_total',
    );
  }
  if (!config.sandbox && !config.statusCallbackSecret)
    warnings.push("no STATUS_CALLBACK_SECRET: final statuses sent to a request's callbackUrl are unsigned");
  const trustProxy = trustProxyWarning(config.callback.trustProxy);
  if (trustProxy) warnings.push(trustProxy);
  return warnings;
}

/** A silence target without a callback on the default app: its clicks could not reach the gateway. */
function alertCardsWarning(config: Config): string | undefined {
  const { alerts } = config;
  const app = findApp(config);
  const silenceTarget = alerts.alertmanagerUrl
    ? 'ALERTMANAGER_URL'
    : alerts.grafanaAlertmanagerUrl
      ? 'GRAFANA_ALERTMANAGER_URL'
      : alerts.routes.some((r) => r.alertmanager)
        ? "an alert route's alertmanager"
        : undefined;
  if (!silenceTarget || !app || app.callback) return undefined;
  return (
    `${silenceTarget} is set but app ${app.name} has no callback (WECOM_CALLBACK_TOKEN, WECOM_CALLBACK_AES_KEY): ` +
    'its clicks could not reach the gateway, so alerts go out without ack and silence buttons'
  );
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
