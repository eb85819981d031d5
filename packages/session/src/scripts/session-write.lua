-- Writes data fields of a session atomically: a compare-and-set on the version, a field merge (only the
-- given fields change), or a full replace; optionally creates the session when it does not exist.
-- KEYS[1] session hash (see session-create.lua)
-- ARGV[1] tenant, ARGV[2] expected version ('' = any), ARGV[3] replace (0 | 1: drop data fields not set),
-- ARGV[4] create: idle ms ('' = never create), ARGV[5] create: absolute ms, ARGV[6] user id ('' = keep),
-- ARGV[7] idle ms for this write ('' = keep the stored one), ARGV[8] n (pairs to set), ARGV[9..] n pairs
-- of data field name / JSON value, then names of data fields to delete
-- Reply: {1, version, expiresAt ms}; {0, version} version mismatch; {-1} missing, expired or another tenant's
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('HMGET', KEYS[1], '~t', '~l', '~i', '~a', '~v')
if not m[1] then
  if ARGV[4] == '' then return {-1} end
  m = {ARGV[1], now, tonumber(ARGV[4]), now + tonumber(ARGV[5]), 0}
  redis.call('HSET', KEYS[1], '~t', ARGV[1], '~u', ARGV[6], '~c', now, '~l', now, '~i', m[3], '~a', m[4],
    '~m', '{}', '~v', 0)
else
  if m[1] ~= ARGV[1] then return {-1} end
  if now >= math.min(tonumber(m[2]) + tonumber(m[3]), tonumber(m[4])) then
    redis.call('DEL', KEYS[1])
    return {-1}
  end
  if ARGV[2] ~= '' and m[5] ~= ARGV[2] then return {0, tonumber(m[5])} end
end
local n = tonumber(ARGV[8])
if ARGV[3] == '1' then
  local keep = {}
  for i = 0, n - 1 do keep['f:' .. ARGV[9 + 2 * i]] = true end
  local names = redis.call('HKEYS', KEYS[1])
  for _, name in ipairs(names) do
    if string.sub(name, 1, 2) == 'f:' and not keep[name] then redis.call('HDEL', KEYS[1], name) end
  end
end
for i = 0, n - 1 do redis.call('HSET', KEYS[1], 'f:' .. ARGV[9 + 2 * i], ARGV[10 + 2 * i]) end
for i = 9 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], 'f:' .. ARGV[i]) end
local idle = tonumber(m[3])
if ARGV[7] ~= '' then
  idle = tonumber(ARGV[7])
  redis.call('HSET', KEYS[1], '~i', idle)
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], '~u', ARGV[6]) end
local v = redis.call('HINCRBY', KEYS[1], '~v', 1)
redis.call('HSET', KEYS[1], '~l', now)
local exp = math.min(now + idle, tonumber(m[4]))
redis.call('PEXPIREAT', KEYS[1], exp)
return {1, v, exp}
