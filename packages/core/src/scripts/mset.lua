-- Stores many values and indexes them (tags, dependants) in one call: a 100-entry mset is one round trip
-- and one script run instead of a command per entry and per index. Values are stored before indexes (as
-- the single-key path does), atomically here.
-- The values arrive concatenated in one argument: the client writes one buffer to the socket instead of
-- two chunks per value (a 100-value call spent as long in writev as in encoding the values).
-- KEYS[1..n] value keys, KEYS[n+1..n+m] index sets (on a cluster every key shares one slot; the caller
--   sends the indexes of other slots separately)
-- ARGV[1] n (value keys); ARGV[2] the n encoded values, back to back; ARGV[2i+1], ARGV[2i+2] byte length
--   and TTL (ms) of value i;
--   then for each index j: ARGV TTL (ms, the longest of its members), member count c, and c positions of
--   value keys (1..n) in KEYS
-- Reply: integer, values stored
local n = tonumber(ARGV[1])
local blob = ARGV[2]
local at = 1
for i = 1, n do
  local len = tonumber(ARGV[2 * i + 1])
  redis.call('SET', KEYS[i], string.sub(blob, at, at + len - 1), 'PX', ARGV[2 * i + 2])
  at = at + len
end
local a = 2 * n + 3
for j = n + 1, #KEYS do
  local ttl, c = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local members = {}
  for m = 1, c do members[m] = KEYS[tonumber(ARGV[a + 1 + m])] end
  redis.call('SADD', KEYS[j], unpack(members))
  if redis.call('PTTL', KEYS[j]) < ttl then redis.call('PEXPIRE', KEYS[j], ttl) end
  a = a + 2 + c
end
return n
