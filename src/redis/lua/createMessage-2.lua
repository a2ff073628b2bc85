--[[
  A message's record and its parts, all queued, in one step (MessageStore.create).

  KEYS[1]  the record (a hash)
  KEYS[2]  the parts (a hash: part number -> state)
  ARGV[1]  the retention (s)
  ARGV[2]  the number of parts
  ARGV[3]  a queued part's state
  ARGV[4…] the record's field/value pairs

  Returns 1.
]]
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
local parts = {}
for i = 0, tonumber(ARGV[2]) - 1 do
  parts[#parts + 1] = tostring(i)
  parts[#parts + 1] = ARGV[3]
end
redis.call('HSET', KEYS[2], unpack(parts))
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
