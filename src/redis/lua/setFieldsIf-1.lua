--[[
  Sets hash fields only while the hash's fields hold one of the allowed values:
  the one step of a state machine that several instances (and a member's double
  click) may race on.

  KEYS[1]  the hash
  ARGV[1]  n: the number of conditions
  ARGV[2…] per condition, the field and its allowed values joined by `|`
  then     the field/value pairs to set

  Returns 1 when it set them, 0 when a condition failed or the hash is gone.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local value = redis.call('HGET', KEYS[1], ARGV[2 + 2 * i]) or ''
  local ok = false
  for allowed in string.gmatch(ARGV[3 + 2 * i], '[^|]+') do
    if allowed == value then ok = true end
  end
  if not ok then return 0 end
end
if #ARGV > 1 + 2 * n then redis.call('HSET', KEYS[1], unpack(ARGV, 2 + 2 * n)) end
return 1
