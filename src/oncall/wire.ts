import type { Core, Flow } from '../core';
import { Handoffs, type HandoffDeps } from './handoffs';
import type { OnCall } from './on-call';
import { oncallRoutes } from './routes';
import type { OnCallSchedule } from './schedule-config';
import { scheduleWarnings, type MemberCheck } from './warnings';

/** What the on-call flow reads from the configuration. */
export interface OnCallSettings {
  oncall: OnCallSchedule[];
  /** The handoff message's language: oncall.handoff (zh) or oncall.handoff.en. */
  alerts: { language: 'zh' | 'en' };
  /** WORKERS: the handoff worker runs with the `alerts` role. */
  workers: Set<string>;
}

export interface OnCallDeps extends Pick<HandoffDeps, 'messages' | 'openAlerts'> {
  onCall: OnCall;
  /** The contact mirror, when contact sync is on: rotation users are checked against it. */
  isMember?: MemberCheck;
}

/**
 * Who is on call (GET /v1/oncall…), overrides, and the handoff messages: start-up
 * warns of gaps and unknown users, and adds each schedule's next handoff.
 */
export async function wireOnCall(core: Core, settings: OnCallSettings, deps: OnCallDeps): Promise<Flow & { handoffs: Handoffs }> {
  const { onCall } = deps;
  for (const warning of await scheduleWarnings(settings.oncall, core.clock(), deps.isMember)) core.logger.warn(warning);
  const event = settings.alerts.language === 'en' ? 'oncall.handoff.en' : 'oncall.handoff';
  const handoffs = new Handoffs(core, { ...deps, event, roles: settings.workers });
  await handoffs.start();
  return {
    routes: oncallRoutes({ onCall, clock: core.clock, onOverride: (name, override) => handoffs.plan(name, override.from) }),
    handoffs,
    workers: handoffs.worker ? [handoffs.worker] : [],
    queues: [handoffs.queue],
    close: () => handoffs.close(),
  };
}
