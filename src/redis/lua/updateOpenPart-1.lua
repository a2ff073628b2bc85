--[[
  A part's new state, only while it may still be sent (not sent, recalled or
  gone): a part that waits must never overwrite a carrier having recorded it
  sent meanwhile (messages/coalesce.ts).

  KEYS[1]  the parts hash   ARGV[1]  the part   ARGV[2]  its state (JSON)

  Returns 1 when set.
]]
local before = redis.call('HGET', KEYS[1], ARGV[1])
if not before then return 0 end
local status = cjson.decode(before).status
if status == 'sent' or status == 'recalled' then return 0 end
-- Being sent within a carrier's merged message (carryPart-1): a recall must keep answering being_sent.
-- The state its own job meant is kept beside the mark: a carrier giving the part back restores it.
local state = cjson.decode(before)
if status == 'sending' and state.coalescedInto then
  state.meant = cjson.decode(ARGV[2])
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(state))
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
