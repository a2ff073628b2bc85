--[[
  Deletes a key only while it still holds the expected value: a token that failed
  is dropped, but a fresh one that another instance already stored survives; a
  lock is released only by its owner.

  KEYS[1]  the key
  ARGV[1]  the value it must still hold

  Returns 1 when deleted, else 0.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
