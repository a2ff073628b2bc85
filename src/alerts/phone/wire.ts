import { ConfigError } from '../../config/load';
import type { Core } from '../../core';
import type { WecomApp } from '../../wecom/app';
import type { AlertGroups } from '../alert-groups';
import type { AlertJobs } from '../alert-jobs';
import type { EventTemplate } from '../../messages/templates';
import type { AlertRoute } from '../alerts-config';
import type { EscalationLevel } from '../escalation-config';
import type { OnCallDirectory } from '../../messages/oncall-recipients';
import { AlertCalls } from './alert-calls';
import { callRoutes } from './call-routes';
import { CallStore } from './call-store';
import { WebhookDialer, WecomDialer, type ContactOf, type Dialer } from './dialers';
import { phoneProblems, schedulesIn, type PhoneConfig } from './phone-config';

export interface PhoneDeps {
  groups: AlertGroups;
  jobs: AlertJobs;
  /** The app whose 紧急通知 places WeCom calls. */
  app: WecomApp;
  oncall?: OnCallDirectory;
  contactOf?: ContactOf;
}

/**
 * Before anything connects: a level with `call` but no ALERT_PHONE, or calling a
 * schedule nobody defined, stops start-up with a line naming it (routes and templates).
 */
export function checkPhone(
  phone: PhoneConfig,
  publicUrl: string | undefined,
  escalations: { routes: AlertRoute[]; templates: ReadonlyMap<string, EventTemplate> },
  oncall?: Pick<OnCallDirectory, 'has'>,
): void {
  const levels = [
    ...escalations.routes.map((r): [string, EscalationLevel[]] => [`alertRoutes ${r.name}: escalation`, r.escalation ?? []]),
    ...[...escalations.templates].map(([event, t]): [string, EscalationLevel[]] => [`template ${event}: escalation`, t.escalation ?? []]),
  ];
  const problems = phoneProblems(phone, { url: phone.webhook?.url, secret: phone.webhook?.secret, publicUrl }, phone.mode ? [] : levels);
  for (const name of schedulesIn(levels.flatMap(([, list]) => list)))
    if (!oncall?.has(name)) problems.push(`escalation call oncall:${name}: no on-call schedule is named ${name}`);
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Escalation levels' calls (ALERT_PHONE): the calls queue and, for the webhook, the
 * adapter's callback route. Unset, nothing (checkPhone refused every `call`).
 */
export function wirePhone(
  core: Core,
  settings: { phone: PhoneConfig; publicUrl?: string; retentionSeconds: number; workers: Set<string>; retryBaseDelayMs: number },
  deps: PhoneDeps,
) {
  const { phone } = settings;
  if (!phone.mode) return { routes: callRoutes() };
  const store = new CallStore(core.redis, { keys: core.keys, retentionSeconds: settings.retentionSeconds });
  const dialer: Dialer =
    phone.mode === 'wecom'
      ? new WecomDialer(core.api, deps.app)
      : new WebhookDialer({ ...phone.webhook!, publicUrl: settings.publicUrl!, contactOf: deps.contactOf, logger: core.logger });
  const calls = new AlertCalls(
    core,
    { roles: settings.workers, settings: { RETRY_BASE_DELAY_MS: settings.retryBaseDelayMs } },
    { ...deps, store, dialer, followMs: phone.followMs, metrics: core.metrics, logger: core.logger, clock: core.clock },
  );
  return { calls, routes: callRoutes(phone.webhook ? { calls, store, secret: phone.webhook.secret } : undefined) };
}
