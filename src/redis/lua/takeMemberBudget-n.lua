--[[
  Per-member send budgets (WeCom silently drops app messages beyond 30/min and
  1000/h per member, reference §2.5), atomically for all recipients of one send.
  A retry of a send is counted once, at its latest time: after a pause or a long
  backoff it reaches WeCom now, not when it was first counted, so it is checked
  again as if new.

  KEYS     one sorted set per member (the sends' timestamps), any number
  ARGV[1]  now (ms)
  ARGV[2]  the send id
  ARGV[3…] pairs of (count, windowMs)

  Returns, per key, 0 when the member takes the send, else the time (ms) when
  the budget allows it.
]]
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
return answers
