--[[
  A claim's end (messages/coalesce-pool.ts): `done` (the merged message went and
  its parts are recorded sent) takes the claim's parts out of the pool and notes
  them carried; `release` lets them wait again. Parts another claim holds now
  (this one's lease ran out) are left alone. `forget` takes parts that went on
  their own out, whoever holds them.

  KEYS     order, leases, owners, bodies, done (as coalesceClaim's)
  ARGV[1]  the claim's id    ARGV[2]  done | release | forget    ARGV[3]  now (ms)
  ARGV[4…] the claimed parts
]]
local claim, mode, now = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local id = ARGV[i]
  if mode == 'forget' then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
  elseif redis.call('HGET', KEYS[3], id) == claim then
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    if mode == 'done' then
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[4], id)
      redis.call('ZADD', KEYS[5], now, id)
    end
  end
end
-- The done set may be new here (a claim's PEXPIRE ran before it existed): it lives as long as what it notes.
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('PEXPIRE', KEYS[5], 3600000) end
return 1
