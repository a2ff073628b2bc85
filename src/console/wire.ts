import type { Core, Flow } from '../core';
import type { AppOptions } from '../app';
import type { MessagesFlow } from '../messages/wire';
import { consoleRouter } from './console';
import { MinuteSeries } from './minute-series';

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
}

/** How often each instance adds what it counted to the console's per-minute charts. */
const SERIES_SAMPLE_MS = 10_000;

/**
 * The operators' console, read from what the flows export: charts of the
 * per-minute counts, messages, the flows' pages, the playground and the queues.
 */
export function wireConsole(core: Core, settings: ConsoleSettings, deps: { flows: Flow[]; messages: MessagesFlow }): ConsoleFlow {
  const series = new MinuteSeries(core.redis, core.keys, core.metrics, core.clock);
  const sampleSeries = () => series.sample().catch((err: Error) => core.logger.debug({ err: err.message }, 'console series not sampled'));
  const sampler = setInterval(sampleSeries, SERIES_SAMPLE_MS).unref();
  const { messages } = deps;
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
    panels: deps.flows.flatMap((f) => f.panels ?? []),
    timeZone: settings.timeZone,
  });
  return {
    pages: [{ path: '/dashboard', permission: 'admin' as const, router }],
    // The last counts of this instance go into its last minute.
    close: async () => {
      clearInterval(sampler);
      await sampleSeries();
    },
  };
}
