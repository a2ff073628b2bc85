import type { AppOptions } from '../app';
import type { Config } from '../config/config';
import type { Core, Flow } from '../core';
import { consoleRouter } from '../console/console';
import { MinuteSeries } from '../console/minute-series';
import type { MessagesFlow } from '../messages/wire';
import { diagnose } from './doctor';
import { opsRoutes } from './routes';

export interface OpsFlow extends Flow {
  /** Pages mounted whole, behind a permission (the dashboard). */
  pages: AppOptions['pages'];
}

/** How often each instance adds what it counted to the console's per-minute charts. */
const SERIES_SAMPLE_MS = 10_000;

/**
 * What operators read about every flow: readiness, queue depths and ages in the
 * metrics, the console (charts, messages, the flows' pages, playground, queues)
 * and the diagnostics.
 */
export function wireOps(core: Core, config: Config, deps: { flows: Flow[]; messages: MessagesFlow }): OpsFlow {
  const workers = deps.flows.flatMap((f) => f.workers ?? []);
  const queues = deps.flows.flatMap((f) => f.queues ?? []);
  const readiness = [
    { name: 'redis', check: async () => (await core.redis.ping()) === 'PONG' },
    { name: 'workers', check: async () => workers.every((w) => w.isRunning()) },
    ...deps.flows.flatMap((f) => f.readiness ?? []),
  ];
  // Accepting works while WeCom is away (messages wait in their queues), so WeCom informs readiness without deciding it.
  core.reachability.watch(config.apps, core.api);
  const details = () => ({ wecom: core.reachability.details(), ...(config.sandbox ? { mode: 'sandbox: sends go to the built-in WeCom simulator' } : {}) });
  // A queue reports its connection's errors too; the connections already log them (once per state change).
  for (const queue of queues) queue.on('error', (err) => core.logger.debug({ err: err.message, queue: queue.name }, 'queue error'));
  core.metrics.addQueueCollector(async () => {
    for (const queue of queues) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => ({}) as Record<string, number>);
      for (const [state, count] of Object.entries(counts)) core.metrics.queueJobs.set({ queue: queue.name, state }, count);
      const [oldest] = await queue.getJobs(['waiting'], 0, 0, true).catch(() => []);
      core.metrics.queueOldestAge.set({ queue: queue.name }, oldest ? (core.clock() - oldest.timestamp) / 1000 : 0);
    }
  });
  const series = new MinuteSeries(core.redis, core.keys, core.metrics, core.clock);
  const sampleSeries = () => series.sample().catch((err: Error) => core.logger.debug({ err: err.message }, 'console series not sampled'));
  const sampler = setInterval(sampleSeries, SERIES_SAMPLE_MS).unref();
  const { messages } = deps;
  const pages = consoleRouter({
    queues,
    messages: messages.console,
    recall: messages.console.recall,
    service: messages.service,
    templates: messages.console.templates,
    apps: config.apps.map((a) => a.name),
    robots: config.robots.map((r) => r.name),
    series,
    panels: deps.flows.flatMap((f) => f.panels ?? []),
    timeZone: config.alerts.timeZone,
  });
  return {
    routes: opsRoutes(core.metrics, { checks: readiness, details }, () => diagnose(config, core.api), config.metricsToken),
    pages: [{ path: '/dashboard', permission: 'admin' as const, router: pages }],
    // The last counts of this instance go into its last minute.
    close: async () => {
      clearInterval(sampler);
      await sampleSeries();
    },
  };
}
