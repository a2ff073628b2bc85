import type { Job } from 'bullmq';
import type { Config } from '../config/config';
import { findApp } from '../config/config';
import type { Core, Flow } from '../core';
import type { MessageService } from '../messages/message-service';
import type { MessageStore } from '../messages/message-store';
import { StormControl } from '../quotas/storm-control';
import { AlertGroups } from './alert-groups';
import { alertPanel } from './alert-panel';
import { AlertJobs, startAlertWorker, type AlertJob } from './alert-jobs';
import { AlertTracking } from './alert-tracking';
import { AlertmanagerClient } from './alertmanager';
import { CardActions } from './card-actions';
import { alertRoutes } from './routes';
import { AlertViews } from './state-routes';

/**
 * Monitoring webhooks (Alertmanager, Grafana) become messages, through storm
 * control; the groups sent are followed: interactive cards (ack, silence), resolve
 * in place, escalation.
 */
export function wireAlerts(core: Core, config: Config, deps: { messages: MessageService; store: MessageStore; nameOf: (userId: string) => Promise<string | undefined> }) {
  const { messages } = deps;
  const storm = new StormControl(core.redis, core.queueRedis, { keys: core.keys, dedupeSeconds: config.alerts.dedupeSeconds, perRecipientPerMinute: config.alerts.perRecipientPerMinute, robotPerMinute: Math.round((config.send.robotQuota.count * 60_000) / config.send.robotQuota.windowMs) });
  const app = findApp(config);
  const alertmanager = config.alerts.alertmanagerUrl ? new AlertmanagerClient(config.alerts.alertmanagerUrl) : undefined;
  const groups = new AlertGroups(core.redis, { keys: core.keys, retentionSeconds: config.retentionSeconds });
  const jobs = new AlertJobs(core.queueRedis, core.keys.queuePrefix, config.send.retryBaseDelayMs);
  const common = { groups, jobs, api: core.api, metrics: core.metrics, logger: core.logger };
  const tracking = app ? new AlertTracking({ ...common, messages, store: deps.store, app, interactive: Boolean(alertmanager && app.callback), settings: config.alerts }) : undefined;
  const actions = app && tracking ? new CardActions({ ...common, tracking, app, findApp: (name) => findApp(config, name), alertmanager, nameOf: deps.nameOf }) : undefined;

  async function handle(job: Job<AlertJob>, token?: string): Promise<void> {
    if (!tracking || !actions) return;
    const data = job.data;
    if (data.kind === 'silence') return actions.silence(job as Job<typeof data>);
    if (data.kind === 'update') return actions.update(job as Job<typeof data>);
    if (data.kind === 'resolve') return tracking.resolveCards(data.groupId);
    return tracking.escalate(job as Job<typeof data>, token);
  }

  return {
    routes: [...alertRoutes(messages, storm, config.alerts, core.metrics, tracking), ...(tracking ? new AlertViews(groups, tracking).routes() : [])],
    rules: actions ? [actions.rule()] : [],
    panels: tracking ? [alertPanel(groups, tracking)] : [],
    workers: [
      ...(config.workers.has('digest') ? [storm.startWorker(core.workerRedis, messages, core.logger)] : []),
      ...(config.workers.has('alerts') ? [startAlertWorker(core.workerRedis, core.keys.queuePrefix, handle, core.logger)] : []),
    ],
    queues: [storm.digestQueue, jobs.queue],
    close: async () => {
      await storm.close();
      await jobs.close();
    },
  } satisfies Flow;
}
