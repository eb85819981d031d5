-- Extends a mutex lease if (and only if) the caller still owns it.
-- KEYS[1] lock hash
-- ARGV[1] owner, ARGV[2] token, ARGV[3] ttl ms
-- Reply: 1 extended; 0 not the owner (lease lost)
local current = redis.call('HMGET', KEYS[1], 'o', 't')
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
