-- release.lua: gives a concurrency slot back, or extends it.
-- KEYS[1]: leases zset (member = lease token, score = expiry time in ms)
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: token; ARGV[3]: 0 to release, or a lease ms to extend by
-- Reply: 1 when the lease was held (and is now released or extended), 0 when it had expired or was unknown.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2]))
if not score or score <= now then
  if score then redis.call('ZREM', KEYS[1], ARGV[2]) end
  return 0
end
local extend = tonumber(ARGV[3])
if extend == 0 then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 1
end
redis.call('ZADD', KEYS[1], now + extend, ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < extend then redis.call('PEXPIRE', KEYS[1], extend) end
return 1
