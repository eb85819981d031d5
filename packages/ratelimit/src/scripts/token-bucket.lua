-- token-bucket.lua: algorithm module of the consume script (prepended to consume.lua, not run alone).
-- Token bucket of `burst` tokens refilled at `limit` per W, in integer units (a token is W units and L
-- units drip in per ms) so that no rounding ever lets an extra request through.
-- State (from the driver): hash {u = units in the bucket, ts = time of the last update, b = blocked
-- until}, read as st = HMGET(fields); no log key.
-- run() returns allowed, remaining, resetAfterMs, retryAfterMs, commit (a function); with `direct`, an
-- allowed request is committed at once and commit is nil; mirrors model.ts tokenBucket.
-- A denied request writes nothing.
local function tokenBucketWrite(key, u2, now, ttl)
  redis.call('HSET', key, 'u', u2, 'ts', now)
  redis.call('PEXPIRE', key, ttl)
end
ALGOS['token-bucket'] = {fields = {'u', 'ts', 'b'}, run = function(st, key, _log, L, W, B, cost, now, direct)
  local cap = B * W
  local u = cap
  local su = tonumber(st[1])
  if su then u = math.min(cap, su + math.max(0, now - tonumber(st[2])) * L) end
  local need = cost * W
  if u < need then
    return false, math.floor(u / W), math.ceil((cap - u) / L), math.ceil((need - u) / L)
  end
  local u2 = u - need
  local reset = math.ceil((cap - u2) / L)
  local ttl = math.max(1, reset)
  if direct then
    tokenBucketWrite(key, u2, now, ttl)
    return true, math.floor(u2 / W), reset, 0
  end
  return true, math.floor(u2 / W), reset, 0, function() tokenBucketWrite(key, u2, now, ttl) end
end}
-- refund() puts `cost` tokens back (never beyond the bucket's capacity); returns whether anything was given
-- back; mirrors model.ts refund. The key's lifetime is only extended.
ALGOS['token-bucket'].refund = function(st, key, _log, L, W, B, cost, now)
  local su = tonumber(st[1])
  if not su then return false end
  local cap = B * W
  local u = math.min(cap, su + math.max(0, now - tonumber(st[2])) * L)
  if u >= cap then return false end
  local u2 = math.min(cap, u + cost * W)
  redis.call('HSET', key, 'u', u2, 'ts', now)
  local ttl = math.max(1, math.ceil((cap - u2) / L))
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  return true
end
