--[[
  Adds an on-call override unless it overlaps one the schedule has: two people
  cannot both be "the one on call" at once, and two instances adding at once must
  not both succeed. Overrides that have ended are dropped on the way; the key
  expires when the last override ends (by the caller's clock).

  KEYS[1]  the schedule's overrides (hash: id -> JSON {id, user, from, until}, ms)
  ARGV[1]  the new override's id
  ARGV[2]  its JSON
  ARGV[3]  from (ms)
  ARGV[4]  until (ms)
  ARGV[5]  now (ms)

  Returns {'ok'}, or {'overlap', JSON of the override it overlaps}.
]]
local from, to, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local last = to
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local o = cjson.decode(all[i + 1])
  if o['until'] <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif o['from'] < to and from < o['until'] then
    return {'overlap', all[i + 1]}
  elseif o['until'] > last then
    last = o['until']
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
-- Relative to the caller's now (the flow's clock), not Redis's: both agree in production, and an absolute time
-- would drop a test's overrides once the wall clock passes them.
redis.call('PEXPIRE', KEYS[1], math.max(1, last - now))
return {'ok'}
