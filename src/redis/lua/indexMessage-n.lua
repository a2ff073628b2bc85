--[[
  A message joins the message indexes (MessageStore.create): sorted sets of
  `<createdAt>:<id>`, all at score 0, so lex order is time order and a cursor is
  exact.

  KEYS     the indexes (all, the creator's), any number
  ARGV[1]  the entry
  ARGV[2]  the oldest entry kept (older ones, past the retention, are dropped)
  ARGV[3]  how many entries each index keeps
  ARGV[4]  the retention (s) after which an index no write touched expires

  Returns 1.
]]
local cap = tonumber(ARGV[3])
for k = 1, #KEYS do
  redis.call('ZADD', KEYS[k], 0, ARGV[1])
  redis.call('ZREMRANGEBYLEX', KEYS[k], '-', '(' .. ARGV[2])
  local over = redis.call('ZCARD', KEYS[k]) - cap
  if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[k], 0, over - 1) end
  redis.call('EXPIRE', KEYS[k], ARGV[4])
end
return 1
