import { DelayedError, type Job, type Queue } from 'bullmq';
import { QUEUES, type QueueSettings } from '../queues/catalog';
import { defineQueue, type DefinedQueue, type Processor, type QueueCore } from '../queues/define-queue';
import type { FoldItem } from './alert-data';

/**
 * A member's action (ack, assign, silence): its id and when it came (for the latencies
 * logged); a card click also names its card and the click's single-use response_code.
 */
export interface Click {
  taskId?: string;
  responseCode?: string;
  clickId: string;
  clickedAt: number;
}

/**
 * Why the group's cards change: it was acked, assigned, silenced or resolved (every card
 * follows); or only the clicked card shows the state (`state`: a click that changed
 * nothing; `failed`: its silence could not be created).
 */
export type CardsReason = 'acked' | 'assigned' | 'silenced' | 'resolved' | 'state' | 'failed';

/** A resolution's messages (to robots, chats, cards past their code) go through storm control as this notification. */
export interface Resolution {
  stormKey: string;
  item: FoldItem;
}

/**
 * What happens to an alert group after the HTTP answer (a click's, a webhook's):
 * each a BullMQ job, so it survives restarts, runs once across instances and is
 * retried with backoff. Escalation levels are delayed jobs, never in-memory timers.
 */
export type AlertJob =
  | { kind: 'silence'; groupId: string; click: Click }
  | { kind: 'cards'; groupId: string; reason: CardsReason; click?: Click; resolution?: Resolution }
  | { kind: 'escalate'; groupId: string; level: number };

/** BullMQ's job ids may not hold `:`; each names what it does once. */
function jobIdOf(job: AlertJob): string {
  switch (job.kind) {
    case 'silence':
      return `silence-${job.click.clickId}`;
    case 'cards':
      return `cards-${job.groupId}-${job.reason}${job.click ? `-${job.click.clickId}` : ''}`;
    case 'escalate':
      return `escalate-${job.groupId}-${job.level}`;
  }
}

export type AlertJobHandler = Processor<AlertJob>;

/** The alert-actions queue and (where WORKERS has alerts) its worker; attempts and backoff by job kind are its catalog row's. */
export class AlertJobs {
  private readonly defined: DefinedQueue<AlertJob>;

  constructor(core: QueueCore, options: { roles: ReadonlySet<string>; settings: QueueSettings }, handle: AlertJobHandler) {
    this.defined = defineQueue<AlertJob>(core, QUEUES.alertActions, handle, {
      ...options,
      onFailed: (job, err) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1))
          core.logger.warn({ job: job.name, groupId: job.data.groupId, err: err.message }, 'alert action failed for good');
      },
    });
  }

  get queue(): Queue<AlertJob> {
    return this.defined.queue;
  }

  get worker() {
    return this.defined.worker;
  }

  async add(job: AlertJob, delayMs = 0): Promise<void> {
    await this.queue.add(job.kind, job, { jobId: jobIdOf(job), delay: delayMs, ...this.defined.jobOptions(job.kind) });
  }

  /** A delayed job runs now (a level whose call failed: the next one need not wait); gone or running, nothing changes. */
  async hurry(job: AlertJob): Promise<void> {
    const waiting = await this.queue.getJob(jobIdOf(job));
    if (waiting && (await waiting.isDelayed())) await waiting.promote();
  }

  close(): Promise<void> {
    return this.defined.close();
  }
}

/** Waits `ms` and runs the job again, without spending an attempt (a silence being created holds escalation back). */
export async function runAgainIn(job: Job<AlertJob>, token: string | undefined, ms: number): Promise<never> {
  // BullMQ's own timestamp: its delayed set is ordered by the wall clock, not the gateway's.
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}
