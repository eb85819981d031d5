-- Releases a getOrSet lease if this process still holds it, then wakes the waiters.
-- KEYS[1] lease key
-- ARGV[1] owner token, ARGV[2] notification channel, ARGV[3] message
-- Reply: integer, 1 when the lease was released, 0 when another owner holds it (or it expired)
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  released = redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return released
