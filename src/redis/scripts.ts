import { createHash } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * A Lua script called by its SHA1 (EVALSHA: a few bytes on the wire, nothing to
 * hash on the server), sent whole (EVAL, which also caches it) only to a server
 * that does not know it yet: a new or restarted Redis, or another Cluster node.
 */
export function luaScript(lua: string): (redis: RedisClient, keys: string[], args: (string | number)[]) => Promise<unknown> {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}

/**
 * Deletes KEYS[1] only while it still holds ARGV[1]: a token that failed is
 * dropped, but a fresh one that another instance already stored survives; a
 * lock is released only by its owner.
 */
const COMPARE_AND_DELETE = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`);

export async function compareAndDelete(redis: RedisClient, key: string, expected: string): Promise<boolean> {
  return (await COMPARE_AND_DELETE(redis, [key], [expected])) === 1;
}

/**
 * Per-member send budgets (WeCom silently drops app messages beyond 30/min and
 * 1000/h per member, reference §2.5), atomically for all recipients of one send.
 * KEYS: one sorted set per member (timestamps of sends). ARGV: now (ms), the send
 * id, then pairs of (count, windowMs). A retry of a send is counted once, at its
 * latest time: after a pause or a long backoff it reaches WeCom now, not when it was
 * first counted, so it is checked again as if new. Answers, per key, 0 when the
 * member takes the send, else the time (ms) when the budget allows it.
 */
const TAKE_MEMBER_BUDGET = luaScript(`
local now = tonumber(ARGV[1])
local sendId = ARGV[2]
local limits = {}
local longest = 0
for i = 3, #ARGV, 2 do
  local window = tonumber(ARGV[i + 1])
  table.insert(limits, { tonumber(ARGV[i]), window })
  if window > longest then longest = window end
end
local answers = {}
for k = 1, #KEYS do
  local key = KEYS[k]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest)
  redis.call('ZREM', key, sendId)
  do
    local retryAt = 0
    for _, limit in ipairs(limits) do
      local count, window = limit[1], limit[2]
      local used = redis.call('ZCOUNT', key, now - window, '+inf')
      if used >= count then
        local oldest = redis.call('ZRANGEBYSCORE', key, now - window, '+inf', 'WITHSCORES', 'LIMIT', used - count, 1)
        local at = tonumber(oldest[2]) + window
        if at > retryAt then retryAt = at end
      end
    end
    if retryAt == 0 then
      redis.call('ZADD', key, now, sendId)
      redis.call('PEXPIRE', key, longest)
    end
    answers[k] = retryAt
  end
end
return answers`);

export interface BudgetLimit {
  count: number;
  windowMs: number;
}

export async function takeMemberBudget(redis: RedisClient, keys: string[], now: number, sendId: string, limits: BudgetLimit[]): Promise<number[]> {
  const args = [String(now), sendId, ...limits.flatMap((l) => [String(l.count), String(l.windowMs)])];
  return (await TAKE_MEMBER_BUDGET(redis, keys, args)) as number[];
}

/**
 * A group robot's turn (quotas/robot-budget.ts). KEYS[1]: the robot's line (a
 * sorted set of parts by acceptance order); then, per key of the robot, its
 * window (sends of the last minute) and its 45009 block. A part that is in the
 * line but not at its front answers {'behind', head, rank}. Otherwise the first
 * key with room counts the entry (a retry of the same entry is counted once, at
 * its latest time) and answers {'go', index}; with none, {'full', when}.
 */
const TAKE_ROBOT_TURN = luaScript(`
local now = tonumber(ARGV[1])
local sendId, entry = ARGV[2], ARGV[3]
local count, window = tonumber(ARGV[4]), tonumber(ARGV[5])
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head and head ~= sendId and redis.call('ZSCORE', KEYS[1], sendId) then
  return { 'behind', head, tostring(redis.call('ZRANK', KEYS[1], sendId)) }
end
local soonest = nil
for i = 2, #KEYS, 2 do
  local windowKey, blockKey = KEYS[i], KEYS[i + 1]
  local blocked = redis.call('PTTL', blockKey)
  if blocked > 0 then
    if soonest == nil or now + blocked < soonest then soonest = now + blocked end
  else
    redis.call('ZREMRANGEBYSCORE', windowKey, '-inf', now - window)
    if redis.call('ZSCORE', windowKey, entry) or redis.call('ZCARD', windowKey) < count then
      redis.call('ZADD', windowKey, now, entry)
      redis.call('PEXPIRE', windowKey, window)
      return { 'go', tostring((i - 2) / 2) }
    end
    local oldest = redis.call('ZRANGE', windowKey, 0, 0, 'WITHSCORES')
    local at = tonumber(oldest[2]) + window
    if soonest == nil or at < soonest then soonest = at end
  end
end
return { 'full', tostring(soonest) }`);

export async function takeRobotTurn(redis: RedisClient, keys: string[], args: { now: number; sendId: string; entry: string; count: number; windowMs: number }): Promise<string[]> {
  return (await TAKE_ROBOT_TURN(redis, keys, [args.now, args.sendId, args.entry, args.count, args.windowMs])) as string[];
}

/**
 * Sets hash fields only while the hash's fields hold one of the allowed values:
 * the one step of a state machine that several instances (and a member's double
 * click) may race on. KEYS[1]: the hash. ARGV: the number of conditions, then per
 * condition the field and its allowed values joined by `|`, then field/value
 * pairs to set. Answers 1 when it set them, 0 when a condition failed or the hash is gone.
 */
const SET_FIELDS_IF = luaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local value = redis.call('HGET', KEYS[1], ARGV[2 + 2 * i]) or ''
  local ok = false
  for allowed in string.gmatch(ARGV[3 + 2 * i], '[^|]+') do
    if allowed == value then ok = true end
  end
  if not ok then return 0 end
end
if #ARGV > 1 + 2 * n then redis.call('HSET', KEYS[1], unpack(ARGV, 2 + 2 * n)) end
return 1`);

export async function setFieldsIf(redis: RedisClient, key: string, conditions: Record<string, string[]>, fields: Record<string, string>): Promise<boolean> {
  const when = Object.entries(conditions).flatMap(([field, allowed]) => [field, allowed.join('|')]);
  const set = Object.entries(fields).flat();
  return (await SET_FIELDS_IF(redis, [key], [Object.keys(conditions).length, ...when, ...set])) === 1;
}

/**
 * A message's record and its parts, all queued, in one step (MessageStore.create).
 * KEYS: the record, the parts. ARGV: the retention (s), the number of parts, a
 * queued part's state, then the record's field/value pairs.
 */
const CREATE_MESSAGE = luaScript(`
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
local parts = {}
for i = 0, tonumber(ARGV[2]) - 1 do
  parts[#parts + 1] = tostring(i)
  parts[#parts + 1] = ARGV[3]
end
redis.call('HSET', KEYS[2], unpack(parts))
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1`);

export async function createMessage(redis: RedisClient, keys: { record: string; parts: string }, args: { ttlSeconds: number; parts: number; queuedPart: string; fields: Record<string, string | number> }): Promise<void> {
  await CREATE_MESSAGE(redis, [keys.record, keys.parts], [args.ttlSeconds, args.parts, args.queuedPart, ...Object.entries(args.fields).flat()]);
}

/**
 * A part's attempt begins (MessageStore.startPart): KEYS[1] the parts hash, ARGV
 * the part and its `sending` state. Answers the state it had, and sets `sending`
 * only over a state that may still be sent (not sent, recalled, or gone), keeping
 * the last attempt's error: a retry against an unreachable WeCom hangs for
 * seconds, and `sending` alone would hide why it is retrying.
 */
const START_PART = luaScript(`
local before = redis.call('HGET', KEYS[1], ARGV[1])
if not before then return false end
local state = cjson.decode(before)
if state.status == 'sent' or state.status == 'recalled' then return before end
local sending = ARGV[2]
if state.error then
  local next = cjson.decode(sending)
  next.error = state.error
  sending = cjson.encode(next)
end
redis.call('HSET', KEYS[1], ARGV[1], sending)
return before`);

export async function startPart(redis: RedisClient, partsKey: string, part: number, sending: string): Promise<string | null> {
  return (await START_PART(redis, [partsKey], [part, sending])) as string | null;
}

/**
 * One notification folded into a storm digest (alerts/storm.ts). KEYS[1]: the
 * window's counts (a hash: `notifications`, and per status and alertname its
 * alerts); KEYS[2]: the key label values seen (a sorted set of
 * `status␟name␟value`, read back by name); KEYS[3]: per status and alertname its
 * earliest startsAt (ms). ARGV: the TTL (s), at most how many values and alertnames
 * are kept, the status, then name/value/startsAt triples, one per alert (startsAt 0:
 * unknown). Past the caps the alerts are still counted (names past it under the
 * status alone), so a storm keeps no more than a digest can show.
 */
const FOLD_INTO_DIGEST = luaScript(`
local ttl, maxValues, maxNames, status = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('HINCRBY', KEYS[1], 'notifications', 1)
for i = 5, #ARGV, 3 do
  local field = status .. '\\31' .. ARGV[i]
  if redis.call('HEXISTS', KEYS[1], field) == 1 or redis.call('HLEN', KEYS[1]) <= maxNames then
    redis.call('HINCRBY', KEYS[1], field, 1)
    if ARGV[i + 1] ~= '' and redis.call('ZCARD', KEYS[2]) < maxValues then redis.call('ZADD', KEYS[2], 0, field .. '\\31' .. ARGV[i + 1]) end
    local startsAt = tonumber(ARGV[i + 2])
    local earliest = tonumber(redis.call('HGET', KEYS[3], field) or '0')
    if startsAt > 0 and (earliest == 0 or startsAt < earliest) then redis.call('HSET', KEYS[3], field, startsAt) end
  else
    redis.call('HINCRBY', KEYS[1], status .. '\\31', 1)
  end
end
for k = 1, 3 do redis.call('EXPIRE', KEYS[k], ttl) end
return 1`);

export async function foldIntoDigest(redis: RedisClient, keys: { counts: string; values: string; since: string }, args: { ttlSeconds: number; maxValues: number; maxNames: number; status: string; alerts: { name: string; value: string; startsAt?: number }[] }): Promise<void> {
  await FOLD_INTO_DIGEST(redis, [keys.counts, keys.values, keys.since], [args.ttlSeconds, args.maxValues, args.maxNames, args.status, ...args.alerts.flatMap((a) => [a.name, a.value, a.startsAt ?? 0])]);
}

/**
 * A message joins the message indexes (MessageStore.create): sorted sets of
 * `<createdAt>:<id>`, all at score 0, so lex order is time order and a cursor is
 * exact. KEYS: the indexes (all, the creator's). ARGV: the entry, the oldest entry
 * kept (older ones, past the retention, are dropped), how many entries each keeps,
 * and the retention (s) after which an index no write touched expires.
 */
const INDEX_MESSAGE = luaScript(`
local cap = tonumber(ARGV[3])
for k = 1, #KEYS do
  redis.call('ZADD', KEYS[k], 0, ARGV[1])
  redis.call('ZREMRANGEBYLEX', KEYS[k], '-', '(' .. ARGV[2])
  local over = redis.call('ZCARD', KEYS[k]) - cap
  if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[k], 0, over - 1) end
  redis.call('EXPIRE', KEYS[k], ARGV[4])
end
return 1`);

export async function indexMessage(redis: RedisClient, keys: string[], args: { entry: string; oldestKept: string; cap: number; ttlSeconds: number }): Promise<void> {
  await INDEX_MESSAGE(redis, keys, [args.entry, args.oldestKept, args.cap, args.ttlSeconds]);
}

/**
 * A caller names users (quotas/recipient-cap.ts): the distinct users it named in
 * the last window, each with when it last named them, may not pass the cap, so
 * neither this set nor the member budgets it stands for grow past it. KEYS[1]: the
 * caller's sorted set. ARGV: now (ms), the window (ms), the cap, then the users
 * (distinct). Users named within the window cost nothing. Answers 0 when all are
 * counted (their time set to now); else nothing is counted and it answers the
 * time (ms) when enough of the oldest lapse to make room.
 */
const NAME_RECIPIENTS = luaScript(`
local now, window, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local new = 0
for i = 4, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then new = new + 1 end
end
local over = redis.call('ZCARD', KEYS[1]) + new - cap
if over > 0 then
  local lapsing = redis.call('ZRANGE', KEYS[1], over - 1, over - 1, 'WITHSCORES')
  return tonumber(lapsing[2]) + window
end
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now, ARGV[i]) end
if #ARGV > 3 then redis.call('PEXPIRE', KEYS[1], window) end
return 0`);

export async function nameRecipients(redis: RedisClient, key: string, args: { now: number; windowMs: number; cap: number; users: string[] }): Promise<number> {
  return (await NAME_RECIPIENTS(redis, [key], [args.now, args.windowMs, args.cap, ...args.users])) as number;
}

/**
 * Takes one of an owner's download slots. KEYS[1]: the owner's downloads, a sorted
 * set of holders by the end of their lease (ms). ARGV: now, holder, slots, leaseMs.
 * Lapsed leases (an instance that died mid-download) are dropped first; a holder
 * asking again keeps its slot with a fresh lease. Answers 1 when taken, else 0.
 */
const TAKE_DOWNLOAD_SLOT = luaScript(`
local now, holder, slots, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], holder) or redis.call('ZCARD', KEYS[1]) < slots then
  redis.call('ZADD', KEYS[1], now + lease, holder)
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
return 0`);

export async function takeDownloadSlot(redis: RedisClient, key: string, args: { now: number; holder: string; slots: number; leaseMs: number }): Promise<boolean> {
  return (await TAKE_DOWNLOAD_SLOT(redis, [key], [args.now, args.holder, args.slots, args.leaseMs])) === 1;
}
