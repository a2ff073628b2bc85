import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { RedisUnavailableError } from '../redis/unavailable';
import type { Outcome } from '../wecom/outcome';

/**
 * What one attempt of a job came to, in the terms every worker shares: a WeCom
 * outcome, a webhook delivery or a welcome all reduce to one of these.
 * `pauseMs`: the whole queue must wait (WeCom blocked the app, 45009).
 */
export type AttemptResult = { kind: 'ok' } | { kind: 'retry'; reason: string; afterMs?: number; pauseMs?: number } | { kind: 'permanent'; reason: string };

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
}

export function settle(result: AttemptResult, policy: RetryPolicy): Verdict {
  if (result.kind === 'ok') return { kind: 'done' };
  if (result.kind === 'retry' && result.pauseMs) return { kind: 'pause', reason: result.reason, ms: result.pauseMs };
  const allowed = result.kind === 'permanent' ? (policy.refusalAttempts ?? 1) : policy.maxAttempts;
  if (policy.attempt >= Math.min(allowed, policy.maxAttempts)) return { kind: 'fail', reason: result.reason };
  const afterMs = result.kind === 'retry' && result.afterMs !== undefined ? result.afterMs : policy.backoffMs?.(policy.attempt);
  return afterMs === undefined ? { kind: 'retry', reason: result.reason } : { kind: 'retry', reason: result.reason, afterMs };
}

/** Capped exponential backoff with ±25 % jitter, so a downstream hiccup does not come back as a synchronized wave. */
export function cappedExponential(baseMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 20)) * (0.75 + Math.random() * 0.5);
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

/**
 * For work that succeeds or throws (callback rule handlers, digests): a throw is a
 * transient failure, retried with the queue's backoff and failed when the attempts run out.
 */
export async function settleThrown(job: Job, work: () => Promise<void>): Promise<void> {
  let result: AttemptResult = { kind: 'ok' };
  try {
    await work();
  } catch (error) {
    result = { kind: 'retry', reason: (error as Error).message };
  }
  await applyVerdict(settle(result, jobAttempts(job)));
}

/** How long a job that met a Redis outage waits before it runs again. */
const REDIS_OUTAGE_WAIT_MS = 1_000;

/**
 * A job whose own steps (its record, its budget) found Redis not answering goes back
 * to wait without spending an attempt: the outage is not the job's failure, and a job
 * that failed for it could not even record that it failed (its record would stay
 * "queued"). The move itself goes over the worker's connection, which waits Redis out.
 */
export function outlastingRedis<T>(processor: (job: Job<T>, token?: string) => Promise<void>): (job: Job<T>, token?: string) => Promise<void> {
  return async (job, token) => {
    try {
      await processor(job, token);
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error;
      await job.moveToDelayed(Date.now() + REDIS_OUTAGE_WAIT_MS, token);
      throw new DelayedError();
    }
  };
}
