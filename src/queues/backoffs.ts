import type { BackoffOptions } from 'bullmq';

/**
 * Every backoff a queue or line uses, in one place (as BullMQ's backoffs.ts):
 * the queue's own exponential and fixed delays, which BullMQ applies between a
 * job's attempts, and a capped exponential for a line that retries by itself.
 */
export type Backoff<Ms = number> =
  /** BullMQ's exponential: `delay`·2^(attempt-1), with `jitter` (0..1) of it random. */
  | { strategy: 'exponential'; delay: Ms; jitter?: number }
  /** BullMQ's fixed: the same delay between every attempt. */
  | { strategy: 'fixed'; delay: Ms }
  /** Exponential from `base`, never past `max`, ±25 % jitter (cappedExponential). */
  | { strategy: 'cappedExponential'; base: Ms; max: Ms };

export const exponential = <Ms>(delay: Ms, jitter?: number): Backoff<Ms> => ({
  strategy: 'exponential',
  delay,
  ...(jitter !== undefined ? { jitter } : {}),
});
export const fixed = <Ms>(delay: Ms): Backoff<Ms> => ({ strategy: 'fixed', delay });
export const capped = <Ms>(base: Ms, max: Ms): Backoff<Ms> => ({ strategy: 'cappedExponential', base, max });

/** Capped exponential backoff with ±25 % jitter, so a downstream hiccup does not come back as a synchronized wave. */
export function cappedExponential(baseMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 20)) * (0.75 + Math.random() * 0.5);
}

/** A queue's backoff as BullMQ's job option. */
export function bullBackoff(backoff: Backoff): BackoffOptions {
  if (backoff.strategy === 'cappedExponential') throw new Error("a capped exponential backoff is a line's own, not a BullMQ job option");
  return backoff.strategy === 'fixed'
    ? { type: 'fixed', delay: backoff.delay }
    : { type: 'exponential', delay: backoff.delay, ...(backoff.jitter !== undefined ? { jitter: backoff.jitter } : {}) };
}

/** A line's backoff as the delay before each next attempt (settle's `backoffMs`). */
export function backoffMs(backoff: Backoff): (attempt: number) => number {
  if (backoff.strategy === 'cappedExponential') return cappedExponential(backoff.base, backoff.max);
  if (backoff.strategy === 'fixed') return () => backoff.delay;
  return (attempt) => backoff.delay * 2 ** (attempt - 1);
}
