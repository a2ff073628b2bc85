--[[
  Alerts held by a route's quiet hours until its window ends (alerts/held-alerts.ts).
  A repeat of an alert already held replaces it but keeps when it was first held,
  so Alertmanager's repeats update rather than duplicate. Each value is
  `<heldAt ms>|<the alert, JSON>`.

  KEYS[1]  the window's held alerts: a hash of recipient set␟owner␟fingerprint -> value
  KEYS[2]  the window's destinations: a hash of recipient set -> where its digest goes (JSON)
  ARGV[1]  the TTL (s): past the release, by the retention
  ARGV[2]  the recipient set
  ARGV[3]  its destination (JSON)
  ARGV[4]  now (ms)
  ARGV[5…] field/alert pairs

  Returns how many alerts were not held before.
]]
local added = 0
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
for i = 5, #ARGV, 2 do
  local existing = redis.call('HGET', KEYS[1], ARGV[i])
  local heldAt = existing and string.match(existing, '^(%d+)|') or ARGV[4]
  if not existing then added = added + 1 end
  redis.call('HSET', KEYS[1], ARGV[i], heldAt .. '|' .. ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return added
