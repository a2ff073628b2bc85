import type { Job } from 'bullmq';
import type { Core, Flow } from '../core';
import { robotPerMinute } from '../budgets/robot-line';
import type { MessageService } from '../messages/message-service';
import type { MessageStore } from '../messages/message-store';
import { findApp } from '../wecom/app';
import { AlertCommands } from './alert-commands';
import { AlertGroups } from './alert-groups';
import type { Processor } from '../queues/define-queue';
import { AlertJobs, type AlertJob } from './alert-jobs';
import type { AlertsSettings } from './alerts-config';
import { AlertTracking } from './alert-tracking';
import type { AlertTryoutDeps } from './alert-tryout';
import { SilenceTargets } from './alertmanager';
import { CardActions } from './card-actions';
import { CardUpdates } from './card-updates';
import { commandRoutes } from './command-routes';
import { TextAck } from './text-ack';
import { alertEvent } from './alert-routing';
import { alertRoutes } from './routes';
import { AlertViews } from './state-routes';
import { StormControl } from './storm';
import type { OnCallDirectory } from '../messages/oncall-recipients';
import type { ContactOf } from './phone/dialers';
import { callRoutes } from './phone/call-routes';
import { wirePhone } from './phone/wire';
import { HeldAlerts } from './held-alerts';
import { QuietHours } from './quiet-hours';

/** The alerts flow, and what the console's alert pages read: tracking and tryout only when alerts go out through an app. */
export interface AlertsFlow extends Flow {
  groups: AlertGroups;
  /** What quiet hours hold now (the console lists it). */
  held: HeldAlerts;
  tracking?: AlertTracking;
  /** Ack, assign and silence, for the console and the alert's page (only when alerts go out through an app). */
  commands?: AlertCommands;
  /** What the alert playground tries a payload with. */
  tryout?: AlertTryoutDeps;
}

/** What the alerts flow reads from the other flows: messages, the contact mirror's names and contacts, who is on call. */
export interface AlertsDeps {
  messages: MessageService;
  store: MessageStore;
  nameOf: (userId: string) => Promise<string | undefined>;
  /** Who is on call: whom on-call recipients reach, and whom an adapter rings. */
  oncall?: OnCallDirectory;
  contactOf?: ContactOf;
}

/**
 * Monitoring webhooks (Alertmanager, Grafana) become messages, through storm
 * control; the groups sent are followed: interactive cards (ack, silence in the
 * source's own Alertmanager), every card following the group, escalation.
 */
export function wireAlerts(core: Core, config: AlertsSettings, deps: AlertsDeps) {
  const { messages } = deps;
  const settings = config.alerts;
  const storm = new StormControl(
    core.redis,
    { core, roles: config.workers, messages },
    {
      keys: core.keys,
      dedupeSeconds: settings.dedupeSeconds,
      perRecipientPerMinute: settings.perRecipientPerMinute,
      robotPerMinute: robotPerMinute(config.send.robotQuota),
      digestEvent: alertEvent(settings, 'digest'),
      timeZone: settings.timeZone,
    },
    core.clock,
  );
  const app = findApp(config);
  const silenceTargets = new SilenceTargets(settings);
  const groups = new AlertGroups(core.redis, { keys: core.keys, retentionSeconds: config.retentionSeconds, clock: core.clock });
  const held = new HeldAlerts(core.redis, { keys: core.keys, retentionSeconds: config.retentionSeconds, clock: core.clock });
  const jobSettings = { roles: config.workers, settings: { RETRY_BASE_DELAY_MS: config.send.retryBaseDelayMs } };
  const jobs = new AlertJobs(core, jobSettings, (job, token) => handle(job, token));
  const common = { groups, jobs, silenceTargets, metrics: core.metrics, logger: core.logger, clock: core.clock };
  const quiet = new QuietHours({ ...common, held, storm, messages, settings, digestEvent: alertEvent(settings, 'digest') });
  const interactive = Boolean(app?.callback && silenceTargets.any);
  const phoneSettings = { ...config, phone: settings.phone, publicUrl: settings.publicUrl, retryBaseDelayMs: config.send.retryBaseDelayMs };
  const phone = app ? wirePhone(core, phoneSettings, { groups, jobs, app, oncall: deps.oncall, contactOf: deps.contactOf }) : undefined;
  const tracking = app
    ? new AlertTracking({ ...common, messages, interactive, settings, calls: phone?.calls, oncall: deps.oncall })
    : undefined;
  const cards =
    app && tracking ? new CardUpdates({ ...common, tracking, messages, store: deps.store, api: core.api, app, storm }) : undefined;
  const commands = tracking ? new AlertCommands({ ...common, tracking, nameOf: deps.nameOf }) : undefined;
  const actions =
    app && tracking && commands
      ? new CardActions({ ...common, tracking, app, findApp: (name) => findApp(config, name), commands })
      : undefined;

  function views(tracking: AlertTracking) {
    const alertViews = new AlertViews(groups, tracking, held);
    return [...alertViews.routes(), ...(commands ? commandRoutes(groups, commands, alertViews) : [])];
  }
  const textAck = (commands: AlertCommands, appName: string) =>
    new TextAck({ groups, commands, appName, language: settings.language, clock: core.clock });

  async function handle(job: Job<AlertJob>, token?: string): ReturnType<Processor<AlertJob>> {
    if (!tracking || !cards || !actions) return;
    const data = job.data;
    if (data.kind === 'silence') return actions.silence(job as Job<typeof data>);
    if (data.kind === 'cards') return cards.updateCards(job as Job<typeof data>, token);
    return tracking.escalate(job as Job<typeof data>, token);
  }

  return {
    routes: [
      ...alertRoutes({ messages, storm, quiet, settings, metrics: core.metrics, logger: core.logger, tracking, clock: core.clock }),
      ...(tracking ? views(tracking) : []),
      ...(phone?.routes ?? callRoutes()),
    ],
    rules: actions && commands && app ? [textAck(commands, app.name).rule(), actions.rule()] : [],
    groups,
    held,
    tracking,
    commands,
    tryout: tracking
      ? { messages, settings, silenceTargets, interactive, durationsOf: (route) => tracking.durationsOf(route), clock: core.clock }
      : undefined,
    workers: [storm.worker, jobs.worker, phone?.calls?.worker].filter((w) => w !== undefined),
    queues: [storm.digestQueue, jobs.queue, ...(phone?.calls ? [phone.calls.queue] : [])],
    close: async () => {
      await storm.close();
      await jobs.close();
      await phone?.calls?.close();
    },
  } satisfies AlertsFlow;
}
