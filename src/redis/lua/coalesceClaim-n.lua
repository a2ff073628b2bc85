--[[
  Coalescing (messages/coalesce-pool.ts): a carrier that has its recipients'
  budget claims the waiting parts it sends as one message. A claim is a lease:
  one its carrier did not settle in time (a crash) is released here, and its
  parts wait again, for their own jobs or a later carrier.

  KEYS[1]  order: the waiting parts of one recipient set and msgtype, by acceptance
  KEYS[2]  leases: claimed parts -> the lease's end (ms)
  KEYS[3]  owners: claimed part -> the claim's id
  KEYS[4]  bodies: part -> {"c": content, "n": 1 when its message wants a final status}
  KEYS[5]  done: parts carried lately -> when (their own jobs must not send them again)
  KEYS[6]  (robots only) the robot's line: the parts behind the carrier, in order
  ARGV[1]  now (ms)         ARGV[2]  lease (ms)      ARGV[3]  the claim's id
  ARGV[4]  the carrier's send id                     ARGV[5]  the byte limit
  ARGV[6]  the separator's bytes                     ARGV[7]  the keys' TTL (ms)
  ARGV[8]  members: the carrier's place (its acceptance time); robots: its content's bytes
  ARGV[9]  members: the carrier's body (it joins the pool unless nothing waits);
           robots: 1 when this send used up the robot's budget (else only a carrier
           that found the budget used up, place 1 in the pool, takes the parts behind)

  Returns {'done'} (the carrier was carried already), {'carried', leaseEnd}
  (another claim holds it), {'alone'} (members: nothing waits), or
  {'claimed', leaseEnd, id, body, …}: the parts in order (members: from the
  earliest waiting, the carrier among them if it fits; robots: the ones right
  behind the carrier in its line).
]]
local now, leaseMs, claim, carrier = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local limit, sep, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local order, leases, owners, bodies, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  redis.call('ZREM', leases, id)
  redis.call('HDEL', owners, id)
end
redis.call('ZREMRANGEBYSCORE', done, '-inf', now - 3600000)
if redis.call('ZSCORE', done, carrier) then return { 'done' } end
local held = redis.call('ZSCORE', leases, carrier)
if held and redis.call('HGET', owners, carrier) ~= claim then return { 'carried', held } end

local leaseEnd = now + leaseMs
local out = { 'claimed', tostring(leaseEnd) }
local function take(id, body)
  redis.call('ZADD', leases, leaseEnd, id)
  redis.call('HSET', owners, id, claim)
  table.insert(out, id)
  table.insert(out, body)
end
local function size(body) return #cjson.decode(body).c end

if #KEYS == 6 then
  local rank = redis.call('ZRANK', KEYS[6], carrier)
  local waited = tonumber(redis.call('ZSCORE', order, carrier) or '0') >= 1
  -- A robot part out of the line without being carried (failed, recalled, gone) leaves the pool too.
  for _, id in ipairs(redis.call('ZRANGE', order, 0, -1)) do
    if not redis.call('ZSCORE', KEYS[6], id) then
      redis.call('ZREM', order, id)
      redis.call('HDEL', bodies, id)
    end
  end
  if not rank or (ARGV[9] ~= '1' and not waited) then return out end
  local used = tonumber(ARGV[8])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[6], rank + 1, rank + 200)) do
    local body = redis.call('HGET', bodies, id)
    if not body or redis.call('ZSCORE', leases, id) then break end
    local n = size(body)
    if used + sep + n > limit then break end
    used = used + sep + n
    take(id, body)
  end
else
  if not redis.call('ZSCORE', order, carrier) then
    if redis.call('ZCARD', order) <= redis.call('ZCARD', leases) then return { 'alone' } end
    redis.call('ZADD', order, ARGV[8], carrier)
    redis.call('HSET', bodies, carrier, ARGV[9])
  end
  local used = -1
  for _, id in ipairs(redis.call('ZRANGE', order, 0, 999)) do
    if not redis.call('ZSCORE', leases, id) then
      local body = redis.call('HGET', bodies, id)
      if not body then
        redis.call('ZREM', order, id)
      else
        local n = size(body)
        if used >= 0 and used + sep + n > limit then break end
        used = (used < 0 and 0 or used + sep) + n
        take(id, body)
      end
    end
  end
end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ttl) end
return out
