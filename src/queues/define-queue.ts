import {
  DelayedError,
  Queue,
  RateLimitError,
  UnrecoverableError,
  Worker,
  type ConnectionOptions,
  type Job,
  type JobsOptions,
  type RateLimiterOptions,
  type WorkerOptions,
} from 'bullmq';
import type { Logger } from 'pino';
import { RedisUnavailableError } from '../redis/unavailable';
import { bullBackoff } from './backoffs';
import { backoffOf, knob, type QueueSettings, type QueueSpec } from './catalog';
import { applyVerdict, jobAttempts, outlastingRedis, settle, type AttemptResult, type Attempted } from './settle';

/** What a queue is built from: the flows' Core has it all. */
export interface QueueCore {
  /** BullMQ queues' connection. */
  queueRedis: ConnectionOptions;
  /** BullMQ workers' (blocking) connection. */
  workerRedis: ConnectionOptions;
  keys: { queuePrefix: string };
  logger: Logger;
}

/**
 * One attempt of a job: its result (void: done), or its result with what the flow
 * does once decided. A throw is a transient failure (its message the reason), except
 * BullMQ's own moves (a job put back to wait) and Redis being away (outlastingRedis).
 */
export type Processor<T> = (job: Job<T>, token?: string) => Promise<AttemptResult | Attempted | void>;

export interface QueueOptions<T> {
  /** The WORKERS roles this instance runs: the worker starts only for the row's role. */
  roles: ReadonlySet<string>;
  /** The settings the row names (SEND_ATTEMPTS, ...). */
  settings?: QueueSettings;
  /** The worker's rate limit (the send rate). */
  limiter?: RateLimiterOptions;
  /** After a job failed (its attempts spent, or stalled too often): what the flow records or logs. */
  onFailed?: (job: Job<T> | undefined, error: Error) => void;
}

export interface DefinedQueue<T> {
  queue: Queue<T>;
  /** Resolves once the queue's connection is ready. */
  ready(): Promise<void>;
  /** Present when this instance runs the row's role. */
  worker?: Worker<T>;
  /** The row's options for a job: attempts (by job name where the row says), backoff, retention. */
  jobOptions(name?: string): JobsOptions;
  /** The worker (in-flight jobs finish or go back), then the queue. */
  close(): Promise<void>;
}

/** Errors that are BullMQ's moves or an outage, not the attempt's failure: they pass through untouched. */
function passesThrough(error: unknown): boolean {
  return (
    error instanceof DelayedError ||
    error instanceof UnrecoverableError ||
    error instanceof RedisUnavailableError ||
    error instanceof RateLimitError
  );
}

/** Runs one attempt and has settle decide it; the flow's `onVerdict` records the verdict before it is carried out. */
function settled<T>(processor: Processor<T>, pauseQueue?: (ms: number) => Promise<void>) {
  return async (job: Job<T>, token?: string): Promise<void> => {
    let attempted: Attempted;
    try {
      const answer = await processor(job, token);
      attempted = !answer ? { result: { kind: 'ok' } } : 'kind' in answer ? { result: answer } : answer;
    } catch (error) {
      if (passesThrough(error)) throw error;
      attempted = { result: { kind: 'retry', reason: (error as Error).message } };
    }
    const verdict = settle(attempted.result, { ...jobAttempts(job), ...attempted.policy });
    if ((await attempted.onVerdict?.(verdict)) === 'handled' && verdict.kind === 'fail') return;
    await applyVerdict(verdict, pauseQueue);
  };
}

/**
 * A queue as its catalog row says: the queue, and (where this instance runs the
 * row's role and there is a processor) its worker, each attempt settled, Redis
 * outages waited out, errors logged. Every queue of the gateway is built here.
 */
export function defineQueue<T>(
  core: QueueCore,
  spec: QueueSpec,
  processor: Processor<T> | undefined,
  options: QueueOptions<T>,
): DefinedQueue<T> {
  const settings = options.settings ?? {};
  const prefix = core.keys.queuePrefix;
  const queue = new Queue<T>(spec.name, { connection: core.queueRedis, prefix });
  // From its first command: a queue's 'error' with no listener would end the process (Node's EventEmitter rule).
  // The connections already log their errors once per state change, so this one is debug.
  queue.on('error', (err) => core.logger.debug({ err: err.message, queue: spec.name }, 'queue error'));
  let worker: Worker<T> | undefined;
  if (processor && options.roles.has(spec.role)) {
    const lockMs = spec.lockMs === undefined ? undefined : knob(spec.lockMs, settings);
    const workerOptions: WorkerOptions = {
      connection: core.workerRedis,
      prefix,
      ...(spec.concurrency !== undefined ? { concurrency: knob(spec.concurrency, settings) } : {}),
      // A job whose worker died (kill -9) is taken up again once its lock lapses; after 3 stalls it fails instead of looping.
      ...(lockMs !== undefined ? { lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 3 } : {}),
      ...(options.limiter ? { limiter: options.limiter } : {}),
    };
    const pauseQueue = spec.pauses ? (ms: number) => worker!.rateLimit(ms) : undefined;
    worker = new Worker<T>(spec.name, outlastingRedis(settled(processor, pauseQueue)), workerOptions);
    if (options.onFailed) worker.on('failed', options.onFailed);
    worker.on('error', (err) => core.logger.error({ err }, `${spec.logName} worker error`));
  }
  return {
    queue,
    ready: async () => void (await queue.waitUntilReady()),
    worker,
    jobOptions: (name) => jobOptionsOf(spec, settings, name),
    async close() {
      await worker?.close();
      await queue.close();
    },
  };
}

/** A row's options for a job (of `name`, where the row has attempts by job name): attempts, backoff, retention. */
export function jobOptionsOf(spec: QueueSpec, settings: QueueSettings, name?: string): JobsOptions {
  const attempts = (name && spec.attemptsByJob?.[name]) || knob(spec.attempts, settings);
  return { attempts, backoff: bullBackoff(backoffOf(spec, settings)), ...spec.retention };
}

/** Whether a failed job is done failing: its attempts spent, refused outright, or stalled too often. */
export function failedForGood(job: Job | undefined, error: Error): job is Job {
  return (
    job !== undefined &&
    (job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError || /stalled/i.test(error.message))
  );
}
