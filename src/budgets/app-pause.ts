import { APP_BLOCKED_ERRCODE } from '../wecom/errcodes';

/** "No call budget" that still lets BullMQ's shared limiter key carry a 45009 pause to every instance. */
const UNLIMITED_PER_SECOND = 1_000_000;

/**
 * The app pause: WeCom's 45009 (frequency limit) blocks the whole app for the rest
 * of its window, a minute at least (reference §2.5). The client turns that answer
 * into a retry after `blockedWindowMs` (THROTTLE_45009_MS), settle into a pause,
 * and the send queue pauses that long, every job alike, on every instance.
 */
export function appBlockedFor(blockedWindowMs: number): (errcode: number) => number | undefined {
  return (errcode) => (errcode === APP_BLOCKED_ERRCODE ? blockedWindowMs : undefined);
}

/**
 * The send queue's limiter: keeps all instances together under the app's call
 * budget (BullMQ's limiter is per queue, in Redis). Always set: BullMQ honours a
 * 45009 pause (worker.rateLimit) in other instances only with a limiter.
 */
export function sendLimiter(ratePerSecond: number): { max: number; duration: number } {
  return { max: ratePerSecond > 0 ? ratePerSecond : UNLIMITED_PER_SECOND, duration: 1_000 };
}
