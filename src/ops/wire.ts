import type { Core, Flow } from '../core';
import { diagnose, type DoctorSettings } from './diagnose';
import { opsRoutes } from './routes';

/**
 * What operators read about every flow: readiness, queue depths and ages in the
 * metrics, and the diagnostics (the console is console/wire.ts).
 */
export function wireOps(core: Core, config: DoctorSettings & { metricsToken?: string }, deps: { flows: Flow[] }): Flow {
  const workers = deps.flows.flatMap((f) => f.workers ?? []);
  const queues = deps.flows.flatMap((f) => f.queues ?? []);
  const readiness = [
    { name: 'redis', check: async () => (await core.redis.ping()) === 'PONG' },
    { name: 'workers', check: async () => workers.every((w) => w.isRunning()) },
    ...deps.flows.flatMap((f) => f.readiness ?? []),
  ];
  // Accepting works while WeCom is away (messages wait in their queues), so WeCom informs readiness without deciding it.
  core.reachability.watch(config.apps, core.api);
  const details = () => ({
    wecom: core.reachability.details(),
    ...(config.sandbox ? { mode: 'sandbox: sends go to the built-in WeCom simulator' } : {}),
  });
  core.metrics.addQueueCollector(async () => {
    for (const queue of queues) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => ({}) as Record<string, number>);
      for (const [state, count] of Object.entries(counts)) core.metrics.queueJobs.set({ queue: queue.name, state }, count);
      const [oldest] = await queue.getJobs(['waiting'], 0, 0, true).catch(() => []);
      core.metrics.queueOldestAge.set({ queue: queue.name }, oldest ? (core.clock() - oldest.timestamp) / 1000 : 0);
    }
  });
  return {
    routes: opsRoutes(core.metrics, { checks: readiness, details }, () => diagnose(config, core.api), config.metricsToken),
  };
}
