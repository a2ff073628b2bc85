import type { AppOptions } from '../app';
import type { Config } from '../config/config';
import type { Core, Flow } from '../core';
import type { MessageStore } from '../messages/message-store';
import { dashboard } from './dashboard';
import { diagnose } from './doctor';
import { opsRoutes } from './routes';

export interface OpsFlow extends Flow {
  /** Pages mounted whole, behind a permission (the dashboard). */
  pages: AppOptions['pages'];
}

/**
 * What operators read about every flow: readiness, queue depths and ages in the
 * metrics, the dashboard (queues and recent messages) and the diagnostics.
 */
export function wireOps(core: Core, config: Config, deps: { flows: Flow[]; store: MessageStore }): OpsFlow {
  const workers = deps.flows.flatMap((f) => f.workers ?? []);
  const queues = deps.flows.flatMap((f) => f.queues ?? []);
  const readiness = [
    { name: 'redis', check: async () => (await core.redis.ping()) === 'PONG' },
    { name: 'workers', check: async () => workers.every((w) => w.isRunning()) },
    ...deps.flows.flatMap((f) => f.readiness ?? []),
  ];
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
  return {
    routes: opsRoutes(core.metrics, readiness, () => diagnose(config, core.api), config.metricsToken),
    pages: [{ path: '/dashboard', permission: 'admin' as const, router: dashboard(queues, deps.store, deps.flows.flatMap((f) => f.panels ?? [])) }],
  };
}
