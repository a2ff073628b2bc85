import type { Config } from '../config/config';
import type { Core, Flow } from '../core';
import type { MessageService } from '../messages/message-service';
import { StormControl } from '../quotas/storm-control';
import { alertRoutes } from './routes';

/** Monitoring webhooks (Alertmanager, Grafana) become messages, through storm control. */
export function wireAlerts(core: Core, config: Config, messages: MessageService) {
  const storm = new StormControl(core.redis, core.queueRedis, { keys: core.keys, dedupeSeconds: config.alerts.dedupeSeconds, perRecipientPerMinute: config.alerts.perRecipientPerMinute, robotPerMinute: Math.round((config.send.robotQuota.count * 60_000) / config.send.robotQuota.windowMs) });
  return {
    routes: alertRoutes(messages, storm, config.alerts, core.metrics),
    workers: config.workers.has('digest') ? [storm.startWorker(core.workerRedis, messages, core.logger)] : [],
    queues: [storm.digestQueue],
    close: () => storm.close(),
  } satisfies Flow;
}
