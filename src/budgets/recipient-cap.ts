import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { luaScript } from '../redis/lua';

const HOUR_MS = 3_600_000;
const NAME_RECIPIENTS = luaScript('nameRecipients');

/** Counts `users` in the caller's window if all fit under the cap: 0, else when room comes (ms) and nothing is counted. */
export async function nameRecipients(
  redis: RedisClient,
  key: string,
  args: { now: number; windowMs: number; cap: number; users: string[] },
): Promise<number> {
  return (await NAME_RECIPIENTS(redis, [key], [args.now, args.windowMs, args.cap, ...args.users])) as number;
}

/** Why a caller may not name these users now: over its cap, and when (if ever) waiting makes room. */
export interface RecipientRefusal {
  cap: number;
  /** Distinct users the request names. */
  named: number;
  /** Seconds until enough of the users it named lapse; absent when the request alone names more than the cap. */
  retryAfterSeconds?: number;
}

/**
 * Distinct users each caller may name an hour. The member budget keeps one key per
 * user it counts (an hour's sends), so without a cap one key naming 10,000 made-up
 * userids a request grows Redis by a key each; with it, a caller's users (and so
 * the budget keys it causes) stay under its cap. Parties and tags are not counted:
 * WeCom expands them, and the gateway keeps no state per member inside them.
 */
export class RecipientCap {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** KEY_RECIPIENTS_PER_HOUR: for every key without a recipientsPerHour of its own; 0 = no cap. */
    private readonly perHour: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts the users for the caller, or answers why not (nothing is counted then). */
  async name(callerId: string, users: string[], ownCap?: number, now = this.clock()): Promise<RecipientRefusal | undefined> {
    const cap = ownCap ?? this.perHour;
    // WeCom's userids are case-insensitive, as the budget keys are.
    const distinct = [...new Set(users.map((u) => u.toLowerCase()))];
    if (cap === 0 || distinct.length === 0) return undefined;
    if (distinct.length > cap) return { cap, named: distinct.length };
    const roomAt = await nameRecipients(this.redis, this.keys.recipientCap(callerId), { now, windowMs: HOUR_MS, cap, users: distinct });
    if (roomAt === 0) return undefined;
    return { cap, named: distinct.length, retryAfterSeconds: Math.max(1, Math.ceil((roomAt - now) / 1000)) };
  }
}
