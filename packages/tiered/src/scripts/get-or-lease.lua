-- A getOrSet read: the value, or (when there is none) the getOrSet lease, in one round trip. The lease is
-- @cache/core's `<ns>:l:{key}` with an owner token, exactly as @cache/client's Lease takes it, so a
-- RedisCache.getOrSet in another process waits on it (and is woken by the same notification).
-- KEYS[1] value key, KEYS[2] lease key (same hash tag, so the same cluster slot)
-- ARGV[1] owner token, ARGV[2] lease length (ms)
-- Reply: { value or false, 1 when this call took the lease else 0 }
local value = redis.call('GET', KEYS[1])
if value then
  return { value, 0 }
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return { false, 1 }
end
return { false, 0 }
