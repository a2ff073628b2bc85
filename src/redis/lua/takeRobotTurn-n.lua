--[[
  A group robot's turn (budgets/robot-line.ts): its line first, then the first of
  its keys with room in its window.

  KEYS[1]  the robot's line: a sorted set of parts by acceptance order
  KEYS[2…] per key of the robot, two keys: its window (the sends of the last
           window, a sorted set) and its 45009 block (a string with a TTL)
  ARGV[1]  now (ms)
  ARGV[2]  the part's send id
  ARGV[3]  the entry counted (the part's message: sendId:chunk); a retry of the
           same entry is counted once, at its latest time
  ARGV[4]  count: the messages a key may send per window
  ARGV[5]  the window (ms)

  Returns {'behind', head, rank} for a part in the line but not at its front;
  else {'go', index, room, waiting} with the index of the key that counted the
  entry, the messages the robot's keys may still send in their windows and the
  parts behind this one (with no room left, coalescing merges them into this one);
  with no key free, {'full', when} (ms).
]]
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
      local room = 0
      for j = 2, #KEYS, 2 do
        if redis.call('PTTL', KEYS[j + 1]) <= 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[j], '-inf', now - window)
          room = room + math.max(0, count - redis.call('ZCARD', KEYS[j]))
        end
      end
      local waiting = redis.call('ZCARD', KEYS[1])
      if redis.call('ZSCORE', KEYS[1], sendId) then waiting = waiting - 1 end
      return { 'go', tostring((i - 2) / 2), tostring(room), tostring(waiting) }
    end
    local oldest = redis.call('ZRANGE', windowKey, 0, 0, 'WITHSCORES')
    local at = tonumber(oldest[2]) + window
    if soonest == nil or at < soonest then soonest = at end
  end
end
return { 'full', tostring(soonest) }
