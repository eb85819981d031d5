-- Starts a refresh-token family with its first token.
-- KEYS[1] family hash (fields: t tenant, u user, c created ms, a absolute deadline ms, i idle ms,
--         cur hash of the current token, prev hash of the previous one, pt ms it was rotated, g generation)
-- ARGV[1] tenant, ARGV[2] user id, ARGV[3] token hash, ARGV[4] absolute lifetime ms, ARGV[5] idle ms
-- Reply: {created ms, expiresAt ms}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local abs = now + tonumber(ARGV[4])
local exp = math.min(now + tonumber(ARGV[5]), abs)
redis.call('HSET', KEYS[1], 't', ARGV[1], 'u', ARGV[2], 'c', now, 'a', abs, 'i', ARGV[5], 'cur', ARGV[3],
  'prev', '', 'pt', 0, 'g', 1)
redis.call('PEXPIREAT', KEYS[1], exp)
return {now, exp}
