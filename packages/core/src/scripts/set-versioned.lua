-- Stores a value and records it in the key's bounded history as the next version.
-- History entries are "<version>|<createdAt ms>|<encoded value>", newest first.
-- KEYS[1] value key, KEYS[2] history key (same hash tag)
-- ARGV[1] encoded value, ARGV[2] TTL (ms), ARGV[3] versions to keep (>= 1), ARGV[4] now (ms)
-- Reply: integer, the new version number
local head = redis.call('LINDEX', KEYS[2], 0)
local version = 1
if head then
  version = (tonumber(string.match(head, '^(%d+)|')) or 0) + 1
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('LPUSH', KEYS[2], version .. '|' .. ARGV[4] .. '|' .. ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return version
