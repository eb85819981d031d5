-- Creates a session hash; fails when the key exists (a random 128-bit id never collides by chance).
-- KEYS[1] session hash (fields: ~t tenant, ~u user, ~c created ms, ~l last seen ms, ~i idle ms,
--         ~a absolute deadline ms, ~m meta JSON, ~v version; data fields 'f:<name>' = JSON value)
-- ARGV[1] tenant, ARGV[2] user id, ARGV[3] idle ms, ARGV[4] absolute ms, ARGV[5] meta JSON,
-- ARGV[6..] data field name / JSON value pairs
-- Reply: {now ms, expiresAt ms}; -1 when the key exists
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local idle = tonumber(ARGV[3])
local abs = now + tonumber(ARGV[4])
local exp = math.min(now + idle, abs)
redis.call('HSET', KEYS[1], '~t', ARGV[1], '~u', ARGV[2], '~c', now, '~l', now, '~i', idle, '~a', abs,
  '~m', ARGV[5], '~v', 1)
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], 'f:' .. ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIREAT', KEYS[1], exp)
return {now, exp}
