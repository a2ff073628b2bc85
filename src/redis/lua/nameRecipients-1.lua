--[[
  A caller names users (budgets/recipient-cap.ts): the distinct users it named in
  the last window, each with when it last named them, may not pass the cap, so
  neither this set nor the member budgets it stands for grow past it. Users named
  within the window cost nothing.

  KEYS[1]  the caller's sorted set (user -> when last named)
  ARGV[1]  now (ms)
  ARGV[2]  the window (ms)
  ARGV[3]  the cap
  ARGV[4…] the users (distinct)

  Returns 0 when all are counted (their time set to now); else nothing is
  counted and it returns the time (ms) when enough of the oldest lapse to make room.
]]
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
return 0
