--[[
  One notification folded into a storm digest (alerts/storm.ts). Past the caps
  the alerts are still counted (names past it under the status alone), so a
  storm keeps no more than a digest can show. Fields join their parts with
  \31 (the unit separator).

  KEYS[1]  the window's counts: a hash of `notifications`, and per status and
           alertname its alerts
  KEYS[2]  the key label values seen: a sorted set of status␟name␟value, read
           back by name
  KEYS[3]  per status and alertname, its earliest startsAt (ms)
  ARGV[1]  the TTL (s)
  ARGV[2]  at most how many values are kept
  ARGV[3]  at most how many alertnames are kept
  ARGV[4]  the status
  ARGV[5…] name/value/startsAt triples, one per alert (startsAt 0: unknown)

  Returns 1.
]]
local ttl, maxValues, maxNames, status = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('HINCRBY', KEYS[1], 'notifications', 1)
for i = 5, #ARGV, 3 do
  local field = status .. '\31' .. ARGV[i]
  if redis.call('HEXISTS', KEYS[1], field) == 1 or redis.call('HLEN', KEYS[1]) <= maxNames then
    redis.call('HINCRBY', KEYS[1], field, 1)
    if ARGV[i + 1] ~= '' and redis.call('ZCARD', KEYS[2]) < maxValues then
      redis.call('ZADD', KEYS[2], 0, field .. '\31' .. ARGV[i + 1])
    end
    local startsAt = tonumber(ARGV[i + 2])
    local earliest = tonumber(redis.call('HGET', KEYS[3], field) or '0')
    if startsAt > 0 and (earliest == 0 or startsAt < earliest) then redis.call('HSET', KEYS[3], field, startsAt) end
  else
    redis.call('HINCRBY', KEYS[1], status .. '\31', 1)
  end
end
for k = 1, 3 do redis.call('EXPIRE', KEYS[k], ttl) end
return 1
