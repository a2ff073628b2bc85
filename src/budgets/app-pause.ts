import { throttleFor } from '../wecom/errcodes';

/** "No call budget" that still lets BullMQ's shared limiter key carry a 45009 pause to every instance. */
const UNLIMITED_PER_SECOND = 1_000_000;

/**
 * The send queue's limiter: keeps all instances together under the app's call
 * budget (BullMQ's limiter is per queue, in Redis). Always set: BullMQ honours a
 * 45009 pause (worker.rateLimit) in other instances only with a limiter.
 */
export function sendLimiter(ratePerSecond: number): { max: number; duration: number } {
  return { max: ratePerSecond > 0 ? ratePerSecond : UNLIMITED_PER_SECOND, duration: 1_000 };
}

/**
 * How long WeCom's answer blocks the whole app (45009: the rest of its window, a
 * minute at least, reference §2.5): the send queue pauses that long, every job alike.
 */
export function appBlockedFor(blockedWindowMs: number): (errcode: number) => number | undefined {
  return (errcode) => throttleFor(errcode, blockedWindowMs);
}
