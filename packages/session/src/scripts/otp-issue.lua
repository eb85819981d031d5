-- Stores a one-time code (hashed) unless the subject is locked or a code was sent too recently.
-- KEYS[1] code hash (h: keyed hash of the code, a: failed attempts), KEYS[2] resend throttle, KEYS[3] lock
-- ARGV[1] code hash, ARGV[2] ttl ms, ARGV[3] resend interval ms
-- Reply: {1, ttl ms} stored; {-1, retry after ms} throttled; {-2, retry after ms} locked
local lock = redis.call('PTTL', KEYS[3])
if lock > 0 then return {-2, lock} end
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return {-1, wait} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'a', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
return {1, tonumber(ARGV[2])}
