-- The getManyOrSet holder's store: the loaded values (unless the caller already SET them on the same
-- connection, pipelined just before: under tracking a key a script writes is not the connection's own
-- write for NOLOOP), their index sets (tags, dependants; each kept alive as long as its longest-lived
-- member, as index-release.lua), then every getOrSet lease released if still ours, each with the
-- notification its waiters wake on (as @cache/client's lease-release.lua, whether or not it was still ours).
-- One call where a SET, an index script and a release script per key were three commands each.
-- KEYS[1..n] value keys, KEYS[n+1..n+m] index sets, KEYS[n+m+1..n+m+k] lease keys (one slot on a cluster)
-- ARGV[1] n, ARGV[2] m, ARGV[3] '1' to SET the values here, '0' when already set, ARGV[4] channel;
--   then per value key i: encoded value ('' when already set) and TTL (ms);
--   then per index j: TTL (ms, the longest of its members), member count c, c positions of value keys;
--   then per lease key: owner token and notification message
-- Reply: integer, leases released (that were still ours)
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local set = ARGV[3] == '1'
local a = 5
for i = 1, n do
  if set then
    redis.call('SET', KEYS[i], ARGV[a], 'PX', ARGV[a + 1])
  end
  a = a + 2
end
for j = n + 1, n + m do
  local ttl, c = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local members = {}
  for x = 1, c do members[x] = KEYS[tonumber(ARGV[a + 1 + x])] end
  redis.call('SADD', KEYS[j], unpack(members))
  if redis.call('PTTL', KEYS[j]) < ttl then redis.call('PEXPIRE', KEYS[j], ttl) end
  a = a + 2 + c
end
local released = 0
for l = n + m + 1, #KEYS do
  if redis.call('GET', KEYS[l]) == ARGV[a] then
    released = released + redis.call('DEL', KEYS[l])
  end
  redis.call('PUBLISH', ARGV[4], ARGV[a + 1])
  a = a + 2
end
return released
