-- Reads a session of one tenant and optionally touches it: the idle deadline moves to now + idle, capped
-- by the absolute deadline; a session past either deadline is deleted, never revived.
-- KEYS[1] session hash (see session-create.lua)
-- ARGV[1] tenant, ARGV[2] touch (0 | 1), ARGV[3] return the fields (0 | 1), ARGV[4] live-set slack cap ms
-- Reply: false when missing, expired or another tenant's; else {expiresAt ms, last seen ms, fields,
-- live-set score to write (0: the live set already covers the new expiry)}
local m = redis.call('HMGET', KEYS[1], '~t', '~l', '~i', '~a', '~L')
if not m[1] or m[1] ~= ARGV[1] then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idle = tonumber(m[3])
local abs = tonumber(m[4])
local last = tonumber(m[2])
if now >= math.min(last + idle, abs) then
  redis.call('DEL', KEYS[1])
  return false
end
local live = 0
if ARGV[2] == '1' then
  last = now
  local exp = math.min(now + idle, abs)
  -- The live-set score runs a slack ahead of the expiry: a ZADD there only once the expiry passes it.
  if not m[5] or exp > tonumber(m[5]) then
    live = exp + math.min(tonumber(ARGV[4]), math.floor(idle / 10))
    redis.call('HSET', KEYS[1], '~l', now, '~L', live)
  else
    redis.call('HSET', KEYS[1], '~l', now)
  end
  redis.call('PEXPIREAT', KEYS[1], exp)
end
local fields = {}
if ARGV[3] == '1' then fields = redis.call('HGETALL', KEYS[1]) end
return {math.min(last + idle, abs), last, fields, live}
