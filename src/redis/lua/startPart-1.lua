--[[
  A part's attempt begins (MessageStore.startPart). Sets `sending` only over a
  state that may still be sent (not sent, recalled, gone, or being carried), keeping the last
  attempt's error: a retry against an unreachable WeCom hangs for seconds, and
  `sending` alone would hide why it is retrying.

  KEYS[1]  the parts hash
  ARGV[1]  the part
  ARGV[2]  its `sending` state (JSON)

  Returns the state it had (JSON), or false when the part is gone.
]]
local before = redis.call('HGET', KEYS[1], ARGV[1])
if not before then return false end
local state = cjson.decode(before)
if state.status == 'sent' or state.status == 'recalled' then return before end
-- A carrier is sending it within its merged message (carryPart-1): its mark stays.
if state.status == 'sending' and state.coalescedInto then return before end
local sending = ARGV[2]
if state.error then
  local next = cjson.decode(sending)
  next.error = state.error
  sending = cjson.encode(next)
end
redis.call('HSET', KEYS[1], ARGV[1], sending)
return before
