-- Rotates a refresh token in one step: the current token is exchanged for a new one; the previous token is
-- accepted again only within the reuse interval (a client retry); any other token of the family is a reuse
-- and revokes the whole family (RFC 9700 §4.14.2).
-- KEYS[1] family hash (see refresh-issue.lua)
-- ARGV[1] hash of the presented token, ARGV[2] hash of the new token, ARGV[3] reuse interval ms
-- Reply: {1, generation, expiresAt ms, tenant, user} rotated; {0, tenant, user} reuse (family revoked);
-- {-1} unknown or expired family
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'cur', 'prev', 'pt', 'a', 'i', 't', 'u')
if not f[1] then return {-1} end
local ok = f[1] == ARGV[1]
if not ok and f[2] ~= '' and f[2] == ARGV[1] and now - tonumber(f[3]) < tonumber(ARGV[3]) then ok = true end
if not ok then
  redis.call('DEL', KEYS[1])
  return {0, f[6], f[7]}
end
if f[1] == ARGV[1] then redis.call('HSET', KEYS[1], 'prev', f[1], 'pt', now) end
redis.call('HSET', KEYS[1], 'cur', ARGV[2])
local g = redis.call('HINCRBY', KEYS[1], 'g', 1)
local exp = math.min(now + tonumber(f[5]), tonumber(f[4]))
redis.call('PEXPIREAT', KEYS[1], exp)
return {1, g, exp, f[6], f[7]}
