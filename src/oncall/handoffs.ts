import type { Job } from 'bullmq';
import { shortTime, span } from '../alerts/alert-data';
import type { Core } from '../core';
import type { SendRequest } from '../messages/send-request';
import { QUEUES } from '../queues/catalog';
import { defineQueue, type DefinedQueue } from '../queues/define-queue';
import type { OnCall } from './on-call';
import type { Shift } from './rotation';

/** An alert still open at a handoff, as the alerts flow gives it (injected in wiring). */
export interface OpenAlert {
  id: string;
  title: string;
  severity: string;
  status: string;
  firingSince: number;
  acked?: string;
}

/** One schedule's handoff at `at` (ms): the job's id is `handoff-<schedule>-<at>`, so instances and restarts add it once. */
export interface HandoffJob {
  schedule: string;
  at: number;
  /** When it was added: one added after its time (an override from the past) is not late. */
  addedAt: number;
}

export interface HandoffDeps {
  onCall: OnCall;
  messages: { accept(request: SendRequest): Promise<{ id: string }> };
  openAlerts: () => Promise<OpenAlert[]>;
  /** oncall.handoff or oncall.handoff.en (ALERT_LANGUAGE). */
  event: string;
  roles: ReadonlySet<string>;
}

/** Open alerts listed in one handoff message; the rest are counted. */
const LISTED = 10;
/** A handoff announced this long after its time was missed by a down instance: counted as late. */
const LATE_MS = 60_000;

/** The handoff message's data (oncall.handoff): who is on call until when, and the alerts still open, newest first. */
export function handoffData(schedule: string, shift: Shift, open: OpenAlert[], timeZone: string, now: number) {
  const listed = [...open].sort((a, b) => b.firingSince - a.firingSince).slice(0, LISTED);
  return {
    schedule,
    user: shift.user,
    since: shortTime(shift.since, timeZone, now),
    until: shortTime(shift.until, timeZone, now),
    override: shift.override ?? null,
    count: open.length,
    alerts: listed.map((a) => ({
      title: a.title,
      severity: a.severity,
      status: a.status,
      acked: a.acked ?? null,
      age: span(now - a.firingSince),
    })),
    more: open.length > LISTED ? open.length - LISTED : null,
  };
}

/**
 * At each handoff (a rotation's shift change, an override beginning or ending)
 * the person now on call gets an app message, and the schedule's announce robots
 * and chats the same: nothing open is lost at shift change. Each handoff job adds
 * the next one; start-up adds each schedule's next, so a restart or a second
 * instance adds nothing twice.
 */
export class Handoffs {
  private readonly defined: DefinedQueue<HandoffJob>;

  constructor(
    private readonly core: Core,
    private readonly deps: HandoffDeps,
  ) {
    this.defined = defineQueue<HandoffJob>(core, QUEUES.handoff, (job) => this.handle(job), { roles: deps.roles });
  }

  get queue() {
    return this.defined.queue;
  }

  get worker() {
    return this.defined.worker;
  }

  /** Each schedule's next handoff, added once. */
  async start(): Promise<void> {
    const now = this.core.clock();
    await Promise.all(this.deps.onCall.names().map((name) => this.planAfter(name, now)));
  }

  /** The handoff at `at` (an override's start): added once, due at once when `at` has passed. */
  async plan(schedule: string, at: number): Promise<void> {
    const addedAt = this.core.clock();
    const options = { ...this.defined.jobOptions(), jobId: `handoff-${schedule}-${at}`, delay: Math.max(0, at - addedAt) };
    await this.queue.add('handoff', { schedule, at, addedAt }, options);
  }

  private async planAfter(schedule: string, after: number): Promise<void> {
    const next = await this.deps.onCall.nextHandoff(schedule, after);
    if (next) await this.plan(schedule, next.since);
  }

  /** A late job (the instance was down) still tells whoever is on call now; one no longer a handoff (its override deleted) tells nobody. */
  private async handle(job: Job<HandoffJob>): Promise<void> {
    const { schedule, at, addedAt } = job.data;
    const now = this.core.clock();
    const begun = await this.deps.onCall.shiftAt(schedule, at);
    const current = begun?.since === at ? await this.deps.onCall.shiftAt(schedule, now) : undefined;
    if (current) await this.announce(schedule, at, current, now);
    const result = !current ? 'skipped' : now - Math.max(at, addedAt) > LATE_MS ? 'late' : 'sent';
    this.core.metrics.oncallHandoffs.inc({ schedule, result });
    this.core.logger.info(
      { schedule, at: new Date(at).toISOString(), user: current?.user, result },
      `oncall ${schedule}: handoff ${result}`,
    );
    await this.planAfter(schedule, Math.max(at, now));
  }

  private async announce(name: string, at: number, shift: Shift, now: number): Promise<void> {
    const schedule = this.deps.onCall.schedule(name)!;
    const open = await this.deps.openAlerts();
    const { robots = [], chats = [] } = schedule.announce ?? {};
    await this.deps.messages.accept({
      event: this.deps.event,
      to: { users: [shift.user], ...(robots.length > 0 ? { robots } : {}), ...(chats.length > 0 ? { chats } : {}) },
      ...(robots.length + chats.length > 0 ? { mentions: { users: [shift.user] } } : {}),
      // The gateway's own message: a retried job is accepted once.
      idempotencyKey: `handoff-${name}-${at}`,
      data: handoffData(name, shift, open, schedule.timezone, now),
    });
  }

  close(): Promise<void> {
    return this.defined.close();
  }
}
