--[[
  Takes one of an owner's download slots (budgets/download-slots.ts). Lapsed
  leases (an instance that died mid-download) are dropped first; a holder asking
  again keeps its slot with a fresh lease.

  KEYS[1]  the owner's downloads: a sorted set of holders by the end of their lease (ms)
  ARGV[1]  now (ms)
  ARGV[2]  the holder
  ARGV[3]  slots: how many holders at a time
  ARGV[4]  the lease (ms)

  Returns 1 when taken, else 0.
]]
local now, holder, slots, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], holder) or redis.call('ZCARD', KEYS[1]) < slots then
  redis.call('ZADD', KEYS[1], now + lease, holder)
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
return 0
