import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { RedisUnavailableError } from '../redis/unavailable';
import type { Outcome } from '../wecom/outcome';

/**
 * What one attempt of a job came to, in the terms every worker shares: a WeCom
 * outcome, a webhook delivery or a welcome all reduce to one of these.
 * `pauseMs`: the whole queue must wait (WeCom blocked the app, 45009).
 */
export type AttemptResult =
  { kind: 'ok' } | { kind: 'retry'; reason: string; afterMs?: number; pauseMs?: number } | { kind: 'permanent'; reason: string };

/** The one decision about a job after an attempt (as Alertmanager's retry stage decides for every notifier). */
export type Verdict =
  | { kind: 'done' }
  /** `afterMs`: from the policy's backoff; absent, the queue's own backoff decides (BullMQ's exponential with jitter). */
  | { kind: 'retry'; reason: string; afterMs?: number }
  | { kind: 'fail'; reason: string }
  | { kind: 'pause'; reason: string; ms: number };

export interface RetryPolicy {
  /** This attempt, from 1. */
  attempt: number;
  /** Attempts in all; Infinity for a line that must wait out any outage (contact sync). */
  maxAttempts: number;
  /** Attempts a refusal gets before it fails (default 1: a permanent error fails at once). */
  refusalAttempts?: number;
  /** Delay before the next attempt; absent, the queue's backoff decides. */
  backoffMs?: (attempt: number) => number;
  /**
   * Time left (ms) in which another attempt may still start (a welcome code's window);
   * at 0 or less the job fails. A job with a deadline never pauses its queue: every
   * other job's window is running too, so a 45009 is retried like any transient error.
   */
  deadlineIn?: number;
}

export function settle(result: AttemptResult, policy: RetryPolicy): Verdict {
  if (result.kind === 'ok') return { kind: 'done' };
  if (result.kind === 'retry' && result.pauseMs && policy.deadlineIn === undefined)
    return { kind: 'pause', reason: result.reason, ms: result.pauseMs };
  const allowed = result.kind === 'permanent' ? (policy.refusalAttempts ?? 1) : policy.maxAttempts;
  const late = policy.deadlineIn !== undefined && policy.deadlineIn <= 0;
  if (late || policy.attempt >= Math.min(allowed, policy.maxAttempts)) return { kind: 'fail', reason: result.reason };
  const afterMs = result.kind === 'retry' && result.afterMs !== undefined ? result.afterMs : policy.backoffMs?.(policy.attempt);
  return afterMs === undefined ? { kind: 'retry', reason: result.reason } : { kind: 'retry', reason: result.reason, afterMs };
}

/** The attempt and the attempts a BullMQ job has, for `settle`. */
export function jobAttempts(job: Job): Pick<RetryPolicy, 'attempt' | 'maxAttempts'> {
  return { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1 };
}

/**
 * Carries a verdict out on a BullMQ job, from inside its processor: done returns;
 * fail stops BullMQ's retries; retry lets BullMQ back off as the job's options say;
 * pause holds the whole queue, via `pauseQueue` (the worker's rate limit, shared by
 * every instance), and puts the job back without spending an attempt.
 */
/**
 * An attempt's result with what its flow does once settle has decided, before the
 * verdict is carried out: record a part's status, count, log, tell a card. `policy`:
 * the attempt's own terms (a welcome's window). `onVerdict` answering 'handled' on a
 * failure ends the job as done: the flow has dealt with it (the card says the
 * silence failed), so it is no dead letter.
 */
export interface Attempted {
  result: AttemptResult;
  policy?: Pick<RetryPolicy, 'deadlineIn'>;
  onVerdict?: (verdict: Verdict) => Promise<void | 'handled'>;
}

export async function applyVerdict(verdict: Verdict, pauseQueue?: (ms: number) => Promise<void>): Promise<void> {
  switch (verdict.kind) {
    case 'done':
      return;
    case 'fail':
      throw new UnrecoverableError(verdict.reason);
    case 'pause':
      await pauseQueue?.(verdict.ms);
      throw Worker.RateLimitError();
    case 'retry':
      throw new Error(verdict.reason);
  }
}

/** A WeCom call's outcome as an attempt's result (the reason is WeCom's own "errcode errmsg"). */
export function wecomResult(outcome: Outcome<unknown>): AttemptResult {
  if (outcome.kind === 'ok') return { kind: 'ok' };
  const reason = `${outcome.error.errcode} ${outcome.error.errmsg}`;
  if (outcome.kind === 'permanent') return { kind: 'permanent', reason };
  // refreshToken never leaves WecomApi (it refetches and tries once more); should one, it is transient.
  return outcome.kind === 'retry' && outcome.afterMs ? { kind: 'retry', reason, pauseMs: outcome.afterMs } : { kind: 'retry', reason };
}

/** How long a job that met a Redis outage waits before it runs again. */
const REDIS_OUTAGE_WAIT_MS = 1_000;

/**
 * A job whose own steps (its record, its budget) found Redis not answering goes back
 * to wait without spending an attempt: the outage is not the job's failure, and a job
 * that failed for it could not even record that it failed (its record would stay
 * "queued"). The move itself goes over the worker's connection, which waits Redis out.
 */
export function outlastingRedis<T>(
  processor: (job: Job<T>, token?: string) => Promise<void>,
): (job: Job<T>, token?: string) => Promise<void> {
  return async (job, token) => {
    try {
      await processor(job, token);
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error;
      // BullMQ times its jobs by the wall clock, not by Core.clock.
      await job.moveToDelayed(Date.now() + REDIS_OUTAGE_WAIT_MS, token);
      throw new DelayedError();
    }
  };
}
