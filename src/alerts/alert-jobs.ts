import { DelayedError, Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { JOB_RETENTION } from '../queues/retention';
import type { RedisClient } from '../redis/connection';
import type { FoldItem } from './alert-data';

export const ALERT_ACTIONS_QUEUE = 'alert-actions';

/** A click: its card, its single-use response_code, its id, and when it came (for the latencies logged). */
export interface Click {
  taskId: string;
  responseCode: string;
  clickId: string;
  clickedAt: number;
}

/**
 * Why the group's cards change: it was acked, silenced or resolved (every card
 * follows); or only the clicked card shows the state (`state`: a click that changed
 * nothing; `failed`: its silence could not be created).
 */
export type CardsReason = 'acked' | 'silenced' | 'resolved' | 'state' | 'failed';

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

/** Alertmanager down: 6 tries (with RETRY_BASE_DELAY_MS' default of 1 s, over about 30 s) before the card says the silence failed. */
export const SILENCE_ATTEMPTS = 6;

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

export class AlertJobs {
  readonly queue: Queue<AlertJob>;

  constructor(
    connection: RedisClient,
    prefix: string,
    private readonly retryBaseDelayMs: number,
  ) {
    this.queue = new Queue<AlertJob>(ALERT_ACTIONS_QUEUE, { connection, prefix });
  }

  async add(job: AlertJob, delayMs = 0): Promise<void> {
    await this.queue.add(job.kind, job, {
      jobId: jobIdOf(job),
      delay: delayMs,
      attempts: job.kind === 'silence' ? SILENCE_ATTEMPTS : 5,
      backoff: { type: 'exponential', delay: this.retryBaseDelayMs },
      ...JOB_RETENTION,
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export type AlertJobHandler = (job: Job<AlertJob>, token?: string) => Promise<void>;

/** Waits `ms` and runs the job again, without spending an attempt (a silence being created holds escalation back). */
export async function runAgainIn(job: Job<AlertJob>, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}

export function startAlertWorker(connection: ConnectionOptions, prefix: string, handle: AlertJobHandler, logger: Logger): Worker<AlertJob> {
  const worker = new Worker<AlertJob>(ALERT_ACTIONS_QUEUE, handle, { connection, prefix, concurrency: 10 });
  worker.on('failed', (job, err) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) logger.warn({ job: job.name, groupId: job.data.groupId, err: err.message }, 'alert action failed for good');
  });
  worker.on('error', (err) => logger.error({ err }, 'alert worker error'));
  return worker;
}
