--[[
  A part that waits for its recipients' budget joins their coalescing pool
  (messages/coalesce-pool.ts), keeping its first place (a robot's part: the
  highest, 1 once it found the robot's budget used up); a part carried lately
  does not join again (its job ran while its carrier recorded it).

  KEYS[1]  order   KEYS[2]  bodies   KEYS[3]  done (as coalesceClaim's)
  ARGV[1]  the send id   ARGV[2]  its place   ARGV[3]  its body   ARGV[4]  TTL (ms)
  ARGV[5]  first | highest: which place it keeps

  Returns 1 when it is in the pool, 0 when it was carried.
]]
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
local place = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not place or (ARGV[5] == 'highest' and tonumber(ARGV[2]) > tonumber(place)) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
