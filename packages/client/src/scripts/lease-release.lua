-- Releases a lease if its owner still holds it (never another owner's), then optionally publishes a message
-- (for waiters), whether or not the lease was still ours.
-- KEYS[1] lease key
-- ARGV[1] owner token, ARGV[2] notification channel (optional), ARGV[3] message (with ARGV[2])
-- Reply: integer, 1 when the lease was released, 0 when another owner holds it (or it expired)
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  released = redis.call('DEL', KEYS[1])
end
if ARGV[2] then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return released
