import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { JOB_RETENTION } from '../queues/retention';
import { settleThrown } from '../queues/settle';
import { describe, eventHeader, type CallbackEvent } from '../wecom/callback/event';
import type { EventRouter } from './event-router';

export const INBOUND_QUEUE = 'inbound';

/**
 * Callbacks are acknowledged at once and handled from this queue (WeCom waits
 * only 5 s). The job id is the event's dedupe key, so a push WeCom repeats is
 * queued once even if two instances receive the copies.
 */
export class InboundQueue {
  readonly queue: Queue<CallbackEvent>;

  constructor(connection: ConnectionOptions, queuePrefix: string) {
    this.queue = new Queue<CallbackEvent>(INBOUND_QUEUE, { connection, prefix: queuePrefix });
  }

  async add(event: CallbackEvent): Promise<void> {
    const { msgType, event: name } = eventHeader(event);
    await this.queue.add(msgType === 'event' ? (name ?? 'event') : (msgType ?? 'message'), event, {
      jobId: event.dedupeKey,
      attempts: 5,
      backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
      ...JOB_RETENTION,
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export function startInboundWorker(connection: ConnectionOptions, queuePrefix: string, router: EventRouter, logger: Logger, onHandled?: (rule: string) => void): Worker<CallbackEvent> {
  const worker = new Worker<CallbackEvent>(
    INBOUND_QUEUE,
    (job) =>
      settleThrown(job, async () => {
        const rule = await router.dispatch(job.data);
        onHandled?.(rule);
        logger.debug({ ...describe(job.data), rule }, 'callback event handled');
      }),
    { connection, prefix: queuePrefix, concurrency: 20 },
  );
  worker.on('failed', (job, err) => logger.warn({ ...(job ? describe(job.data) : {}), err: err.message, attempts: job?.attemptsMade }, 'callback handler failed'));
  worker.on('error', (err) => logger.error({ err }, 'inbound worker error'));
  return worker;
}
