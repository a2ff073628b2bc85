import type { Logger } from 'pino';
import { QUEUES } from '../queues/catalog';
import { defineQueue, type DefinedQueue, type QueueCore } from '../queues/define-queue';
import { describe, eventHeader, type CallbackEvent } from '../wecom/callback/event';
import type { EventRouter } from './event-router';

/**
 * Callbacks are acknowledged at once and handled from this queue (WeCom waits
 * only 5 s). The job id is the event's dedupe key, so a push WeCom repeats is
 * queued once even if two instances receive the copies. A rule handler that
 * throws is retried with the queue's backoff (catalog.ts).
 */
export class InboundQueue {
  private readonly defined: DefinedQueue<CallbackEvent>;

  constructor(core: QueueCore & { roles: ReadonlySet<string> }, router: EventRouter, onHandled?: (rule: string) => void) {
    const logger: Logger = core.logger;
    this.defined = defineQueue<CallbackEvent>(
      core,
      QUEUES.inbound,
      async (job) => {
        const rule = await router.dispatch(job.data);
        onHandled?.(rule);
        logger.debug({ ...describe(job.data), rule }, 'callback event handled');
      },
      {
        roles: core.roles,
        onFailed: (job, err) =>
          logger.warn({ ...(job ? describe(job.data) : {}), err: err.message, attempts: job?.attemptsMade }, 'callback handler failed'),
      },
    );
  }

  get queue() {
    return this.defined.queue;
  }

  get worker() {
    return this.defined.worker;
  }

  async add(event: CallbackEvent): Promise<void> {
    const { msgType, event: name } = eventHeader(event);
    const jobName = msgType === 'event' ? (name ?? 'event') : (msgType ?? 'message');
    await this.queue.add(jobName, event, { jobId: event.dedupeKey, ...this.defined.jobOptions() });
  }

  close(): Promise<void> {
    return this.defined.close();
  }
}
