-- Creates a session hash; fails when the key exists (a random 128-bit id never collides by chance).
-- KEYS[1] session hash. Fields: '~' the header "version|last seen ms|idle ms|absolute deadline ms|
--         live-set score|created ms|tenant|user" (one field, so a read decodes a few strings, not a dozen;
--         the live-set score is the one last written for it in the tenant's live set), '~m' meta JSON
--         (absent: none), 'f:<name>' = JSON value of each data field
-- ARGV[1] tenant, ARGV[2] user id, ARGV[3] idle ms, ARGV[4] absolute ms, ARGV[5] meta JSON ('' = none),
-- ARGV[6] live-set slack cap ms, ARGV[7..] data field name / JSON value pairs
-- Reply: {now ms, expiresAt ms, live-set score to write}; -1 when the key exists
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local idle = tonumber(ARGV[3])
local abs = now + tonumber(ARGV[4])
local exp = math.min(now + idle, abs)
-- The live set gets a score a little past the expiry, so touches within the slack need no ZADD there.
local live = exp + math.min(tonumber(ARGV[6]), math.floor(idle / 10))
local h = {'~', table.concat({1, now, idle, abs, live, now, ARGV[1], ARGV[2]}, '|')}
if ARGV[5] ~= '' then
  h[3] = '~m'
  h[4] = ARGV[5]
end
for i = 7, #ARGV, 2 do
  h[#h + 1] = 'f:' .. ARGV[i]
  h[#h + 1] = ARGV[i + 1]
  -- unpack() is bounded by the Lua stack: fields go in chunks.
  if #h >= 2000 then
    redis.call('HSET', KEYS[1], unpack(h))
    h = {}
  end
end
if #h > 0 then redis.call('HSET', KEYS[1], unpack(h)) end
redis.call('PEXPIREAT', KEYS[1], exp)
return {now, exp, live}
