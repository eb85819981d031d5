-- Rewrites a session stored by 0.1.x (a hash) as the string of this version, keeping its expiry, so live
-- sessions survive the upgrade; nothing when the key is no longer a hash (rewritten meanwhile, or gone).
-- KEYS[1] session key
-- ARGV[1] the value (see layout.ts), ARGV[2] PEXPIREAT ms when the hash had no expiry (its absolute deadline)
-- Reply: 1 rewritten; 0 not a hash
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local at = redis.call('PEXPIRETIME', KEYS[1])
if at <= 0 then at = tonumber(ARGV[2]) end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', at)
return 1
