--[[
  A carrier takes a waiting part into its merged message, or gives it back
  (messages/coalesce.ts). `take` marks it `sending` (its coalescedInto naming the
  carrier, its attempts kept) only while it may still be sent: queued, deferred
  or sending (its own job running, or an earlier carrier's lease lapsed); a
  recall then answers being_sent, and its own job does not write over the mark (startPart-1,
  updateOpenPart-1). `release` puts back the state it had while still marked,
  or the one its own job meant meanwhile (`meant`, kept by updateOpenPart-1).

  KEYS[1]  the parts hash   ARGV[1]  the part   ARGV[2]  take | release
  ARGV[3]  take: the marked state (JSON); release: the state it had (JSON)

  Returns {1, state it had} when set, {0, state it has} when not, {0} when gone.
]]
local before = redis.call('HGET', KEYS[1], ARGV[1])
if not before then return { 0 } end
local state = cjson.decode(before)
local marked = state.status == 'sending' and state.coalescedInto ~= nil
local next = ARGV[3]
if ARGV[2] == 'take' then
  if not (state.status == 'queued' or state.status == 'deferred' or state.status == 'sending') then return { 0, before } end
  local taken = cjson.decode(next)
  taken.attempts = state.attempts
  taken.meant = state.meant
  next = cjson.encode(taken)
elseif not marked then
  return { 0, before }
elseif state.meant then
  -- Its own job meant it to wait meanwhile (updateOpenPart-1): that is its state now.
  next = cjson.encode(state.meant)
end
redis.call('HSET', KEYS[1], ARGV[1], next)
return { 1, before }
