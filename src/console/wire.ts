import type { Core, Flow } from '../core';
import type { AppOptions } from '../app';
import type { AlertsFlow } from '../alerts/wire';
import type { SyncDispatcher } from '../contacts/sync-dispatcher';
import type { MessagesFlow } from '../messages/wire';
import type { WecomApp } from '../wecom/app';
import { consoleRouter } from './console';
import { MinuteSeries } from './minute-series';
import { alertPlayground } from './panels/alert-playground';
import type { AlertActions, OnCallDirectory } from './alert-page';
import { memberPageRouter } from './member-page';
import { alertPanel } from './panels/alerts';
import { syncPanel } from './panels/contact-sync';

export interface ConsoleFlow extends Flow {
  /** Pages mounted whole, behind a permission (the dashboard). */
  pages: AppOptions['pages'];
}

/** What the console shows of the configuration. */
export interface ConsoleSettings {
  /** App and robot names, for the message filters and the playground. */
  apps: string[];
  robots: string[];
  /** ALERT_TIMEZONE: every time the console shows is in it, as on the alert cards. */
  timeZone: string;
  /** As the send worker states it in each payload the message page shows. */
  duplicateCheckSeconds: number;
  /** The contact sinks' names, for the sync page. */
  sinks: string[];
  /** The alert routes' names, for the alert list's filter. */
  alertRoutes: string[];
  /** The alert's member page: WeCom's web login through the alert app (none: no member page). */
  webLogin: { oauthBase: string; publicUrl?: string; app?: WecomApp };
}

/** The flows the console reads: every flow's queues, and the services of those with pages here. */
export interface ConsoleReads {
  flows: Flow[];
  messages: MessagesFlow;
  /** `commands`: ack, assign, silence from the alert pages (alerts/alert-commands.ts). */
  alerts: Pick<AlertsFlow, 'groups' | 'held' | 'tracking' | 'tryout'> & { commands?: AlertActions };
  /** Who is on call, for the alert list and pages (oncall/on-call.ts). */
  onCall?: OnCallDirectory;
  contacts: { sync?: SyncDispatcher };
}

/** How often each instance adds what it counted to the console's per-minute charts. */
const SERIES_SAMPLE_MS = 10_000;

/**
 * The operators' console, read from what the flows export: charts of the
 * per-minute counts, messages, the flows' pages, the playground and the queues.
 */
export function wireConsole(core: Core, settings: ConsoleSettings, deps: ConsoleReads): ConsoleFlow {
  const series = new MinuteSeries(core.redis, core.keys, core.metrics, core.clock);
  const sampleSeries = () => series.sample().catch((err: Error) => core.logger.debug({ err: err.message }, 'console series not sampled'));
  const sampler = setInterval(sampleSeries, SERIES_SAMPLE_MS).unref();
  const { messages, alerts, contacts } = deps;
  // The flows' pages, in the navigation's order.
  const panels = [
    ...(alerts.tracking && alerts.tryout
      ? [
          alertPanel({ ...alerts, tracking: alerts.tracking, store: messages.store, onCall: deps.onCall, routes: settings.alertRoutes }),
          alertPlayground(alerts.tryout, core.clock),
        ]
      : []),
    ...(contacts.sync ? [syncPanel(contacts.sync, settings.sinks, core.metrics)] : []),
  ];
  const { recall } = messages;
  const { duplicateCheckSeconds } = settings;
  const router = consoleRouter({
    queues: deps.flows.flatMap((f) => f.queues ?? []),
    messages: { store: messages.store, sendQueue: messages.sendQueue, findApp: recall.findApp, duplicateCheckSeconds },
    recall,
    service: messages.service,
    templates: messages.templates,
    apps: settings.apps,
    robots: settings.robots,
    series,
    panels,
    timeZone: settings.timeZone,
  });
  // The alert's page for members, behind WeCom's web login instead of a key.
  const { app, oauthBase, publicUrl } = settings.webLogin;
  const { tracking, commands } = alerts;
  const memberPage =
    app && tracking && commands
      ? memberPageRouter({
          ...alerts,
          tracking,
          commands,
          store: messages.store,
          onCall: deps.onCall,
          api: core.api,
          app,
          oauthBase,
          publicUrl,
          timeZone: settings.timeZone,
          clock: core.clock,
        })
      : undefined;
  return {
    pages: [
      { path: '/dashboard', permission: 'admin' as const, router },
      ...(memberPage ? [{ path: '/alerts', permission: 'none' as const, router: memberPage }] : []),
    ],
    // The last counts of this instance go into its last minute.
    close: async () => {
      clearInterval(sampler);
      await sampleSeries();
    },
  };
}
