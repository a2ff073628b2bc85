import type { RedisClient } from '../redis/scripts';

/**
 * Storm control's one decision per notification, atomic so that concurrent
 * requests on several instances agree (every key shares the recipients' hash
 * tag, so this also runs on Redis Cluster).
 *
 * KEYS: [1] seen (this notification for these recipients), [2] the window's
 * counter, [3] the window's folded items, [4] the window's folded count.
 * ARGV: [1] now (ms), [2] dedupe seconds (0 = off), [3] limit per window
 * (0 = off), [4] counter ttl, [5] the folded item (JSON), [6] most items kept,
 * [7] folded ttl.
 *
 * Answers { decision, first seen (ms), repeat }: `send` or `folded`, decided
 * the first time and replayed for a repeat within the dedupe window, which is
 * therefore neither counted nor folded again.
 */
const ADMIT = `
local dedupe = tonumber(ARGV[2])
if dedupe > 0 then
  local seen = redis.call('GET', KEYS[1])
  if seen then
    local decision, since = string.match(seen, '^(%a+):(%d+)$')
    return { decision, since, 1 }
  end
end
local decision = 'send'
local limit = tonumber(ARGV[3])
if limit > 0 then
  local count = redis.call('INCR', KEYS[2])
  if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
  if count > limit then
    decision = 'folded'
    local folded = redis.call('INCR', KEYS[4])
    redis.call('EXPIRE', KEYS[4], ARGV[7])
    -- The digest lists the first few; the rest are only counted, so a storm costs bounded memory.
    if folded <= tonumber(ARGV[6]) then
      redis.call('RPUSH', KEYS[3], ARGV[5])
      redis.call('EXPIRE', KEYS[3], ARGV[7])
    end
  end
end
if dedupe > 0 then redis.call('SET', KEYS[1], decision .. ':' .. ARGV[1], 'EX', dedupe) end
return { decision, ARGV[1], 0 }`;

export interface AdmitKeys {
  seen: string;
  counter: string;
  foldedItems: string;
  foldedCount: string;
}

export interface AdmitArgs {
  now: number;
  dedupeSeconds: number;
  limit: number;
  counterTtlSeconds: number;
  item: string;
  itemsKept: number;
  foldedTtlSeconds: number;
}

export interface AdmitResult {
  decision: 'send' | 'folded';
  /** When this notification was first admitted: a repeat within the window gets the first one's time. */
  since: number;
  repeat: boolean;
}

export async function admit(redis: RedisClient, keys: AdmitKeys, args: AdmitArgs): Promise<AdmitResult> {
  const [decision, since, repeat] = (await redis.eval(
    ADMIT,
    4,
    keys.seen,
    keys.counter,
    keys.foldedItems,
    keys.foldedCount,
    String(args.now),
    String(args.dedupeSeconds),
    String(args.limit),
    String(args.counterTtlSeconds),
    args.item,
    String(args.itemsKept),
    String(args.foldedTtlSeconds),
  )) as [string, string, number];
  return { decision: decision === 'folded' ? 'folded' : 'send', since: Number(since), repeat: repeat === 1 };
}
