-- Stores many values and indexes them (tags, dependants) in one call: a 100-entry mset is one round trip
-- and one script run instead of a command per entry and per index. Values are stored before indexes (as
-- the single-key path does), atomically here.
-- The values arrive concatenated in one argument, after their lengths: the client writes one buffer to the
-- socket instead of two chunks per value (a 100-value call spent as long in writev as in encoding the
-- values), and the server builds 2 Lua strings instead of 2n (arguments cost the script ~0.15 us each).
-- KEYS[1..n] value keys, KEYS[n+1..n+m] index sets (on a cluster every key shares one slot; the caller
--   sends the indexes of other slots separately)
-- ARGV[1] n (value keys); ARGV[2] the n byte lengths (4-byte big-endian unsigned each), then the n encoded
--   values back to back; ARGV[3] the TTL (ms) of every value, or '' when they differ: then ARGV[3+i] is
--   the TTL of value i;
--   then for each index j: ARGV TTL (ms, the longest of its members), member count c, and c positions of
--   value keys (1..n) in KEYS
-- Reply: integer, values stored
local n = tonumber(ARGV[1])
local blob = ARGV[2]
local ttl = ARGV[3]
local at = 4 * n + 1
local a = 4
if ttl == '' then
  for i = 1, n do
    local len = struct.unpack('>I4', blob, 4 * i - 3)
    redis.call('SET', KEYS[i], string.sub(blob, at, at + len - 1), 'PX', ARGV[3 + i])
    at = at + len
  end
  a = 4 + n
else
  for i = 1, n do
    local len = struct.unpack('>I4', blob, 4 * i - 3)
    redis.call('SET', KEYS[i], string.sub(blob, at, at + len - 1), 'PX', ttl)
    at = at + len
  end
end
for j = n + 1, #KEYS do
  local ittl, c = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local members = {}
  for m = 1, c do members[m] = KEYS[tonumber(ARGV[a + 1 + m])] end
  redis.call('SADD', KEYS[j], unpack(members))
  if redis.call('PTTL', KEYS[j]) < ittl then redis.call('PEXPIRE', KEYS[j], ittl) end
  a = a + 2 + c
end
return n
