-- Reads a session of one tenant and optionally touches it: the idle deadline moves to now + idle, capped
-- by the absolute deadline; a session past either deadline is deleted, never revived.
-- KEYS[1] session hash (see session-create.lua)
-- ARGV[1] tenant, ARGV[2] touch (0 | 1), ARGV[3] return the fields (0 | 1), ARGV[4] live-set slack cap ms
-- Reply: false when missing, expired or another tenant's; else {expiresAt ms, last seen ms, fields,
-- live-set score to write (0: the live set already covers the new expiry)}
local head = redis.call('HGET', KEYS[1], '~')
if not head then return false end
local v, last, idle, abs, live, created, tenant, user =
  string.match(head, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|([^|]*)|(.*)$')
if tenant ~= ARGV[1] then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
idle = tonumber(idle)
abs = tonumber(abs)
last = tonumber(last)
if now >= math.min(last + idle, abs) then
  redis.call('DEL', KEYS[1])
  return false
end
local write = 0
if ARGV[2] == '1' then
  last = now
  local exp = math.min(now + idle, abs)
  -- The live-set score runs a slack ahead of the expiry: a ZADD there only once the expiry passes it.
  if exp > tonumber(live) then
    write = exp + math.min(tonumber(ARGV[4]), math.floor(idle / 10))
    live = write
  end
  redis.call('HSET', KEYS[1], '~', table.concat({v, now, idle, abs, live, created, tenant, user}, '|'))
  redis.call('PEXPIREAT', KEYS[1], exp)
end
local fields = {}
if ARGV[3] == '1' then fields = redis.call('HGETALL', KEYS[1]) end
return {math.min(last + idle, abs), last, fields, write}
