-- Writes data fields of a session atomically: a compare-and-set on the version, a field merge (only the
-- given fields change), or a full replace; optionally creates the session when it does not exist.
-- One HSET and at most one HDEL however many fields change (each redis.call costs more than its command).
-- KEYS[1] session hash (see session-create.lua)
-- ARGV[1] tenant, ARGV[2] expected version ('' = any), ARGV[3] replace (0 | 1: drop data fields not set),
-- ARGV[4] create: idle ms ('' = never create), ARGV[5] create: absolute ms, ARGV[6] user id ('' = keep),
-- ARGV[7] idle ms for this write ('' = keep the stored one), ARGV[8] live-set slack cap ms,
-- ARGV[9] n (pairs to set), ARGV[10..] n pairs of data field name / JSON value, then names of data
-- fields to delete
-- Reply: {1, version, expiresAt ms, live-set score to write (0: none)}; {0, version} version mismatch;
-- {-1} missing, expired or another tenant's
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local head = redis.call('HGET', KEYS[1], '~')
local v, last, idle, abs, live, created, tenant, user
if not head then
  if ARGV[4] == '' then return {-1} end
  v, last, idle, abs, live, created, tenant, user =
    0, now, tonumber(ARGV[4]), now + tonumber(ARGV[5]), 0, now, ARGV[1], ARGV[6]
else
  v, last, idle, abs, live, created, tenant, user =
    string.match(head, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|([^|]*)|(.*)$')
  if tenant ~= ARGV[1] then return {-1} end
  abs = tonumber(abs)
  if now >= math.min(tonumber(last) + tonumber(idle), abs) then
    redis.call('DEL', KEYS[1])
    return {-1}
  end
  if ARGV[2] ~= '' and v ~= ARGV[2] then return {0, tonumber(v)} end
  if ARGV[6] ~= '' then user = ARGV[6] end
end
local n = tonumber(ARGV[9])
local del = {}
if ARGV[3] == '1' then
  local keep = {}
  for i = 0, n - 1 do keep['f:' .. ARGV[10 + 2 * i]] = true end
  for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(name, 1, 2) == 'f:' and not keep[name] then del[#del + 1] = name end
  end
end
for i = 10 + 2 * n, #ARGV do del[#del + 1] = 'f:' .. ARGV[i] end
-- unpack() is bounded by the Lua stack: fields go in chunks.
for i = 1, #del, 1000 do redis.call('HDEL', KEYS[1], unpack(del, i, math.min(i + 999, #del))) end
local h = {}
for i = 0, n - 1 do
  h[#h + 1] = 'f:' .. ARGV[10 + 2 * i]
  h[#h + 1] = ARGV[11 + 2 * i]
  if #h >= 2000 then
    redis.call('HSET', KEYS[1], unpack(h))
    h = {}
  end
end
if ARGV[7] ~= '' then idle = ARGV[7] end
idle = tonumber(idle)
local exp = math.min(now + idle, abs)
-- The live-set score runs a slack ahead of the expiry: a ZADD there only once the expiry passes it.
local write = 0
if exp > tonumber(live) then
  write = exp + math.min(tonumber(ARGV[8]), math.floor(idle / 10))
  live = write
end
v = tonumber(v) + 1
h[#h + 1] = '~'
h[#h + 1] = table.concat({v, now, idle, abs, live, created, tenant, user}, '|')
redis.call('HSET', KEYS[1], unpack(h))
redis.call('PEXPIREAT', KEYS[1], exp)
return {1, v, exp, write}
