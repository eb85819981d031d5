-- Adds members to an index set (tag or dependants) and keeps the set alive at least as long as its
-- longest-lived member, so indexes of expired entries disappear by themselves.
-- KEYS[1] index set
-- ARGV[1] TTL of the members (ms); ARGV[2..n] member keys
-- Reply: integer, members added
local added = redis.call('SADD', KEYS[1], unpack(ARGV, 2))
local ttl = tonumber(ARGV[1])
local current = redis.call('PTTL', KEYS[1])
if current < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return added
