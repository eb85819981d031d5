-- gcra.lua: algorithm module of the consume script (prepended to consume.lua, not run alone).
-- Generic cell rate algorithm in integer units of 1/L ms: the theoretical arrival time is tat + f/L ms;
-- each unit of cost moves it W units ahead; a request passes while it stays within burst*W units of now.
-- State (from the driver): hash {tat = whole ms, f = remainder in 1/L ms, b = blocked until}, read as
-- st = HMGET(fields); no log key.
-- run() returns allowed, remaining, resetAfterMs, retryAfterMs, commit (a function); with `direct`, an
-- allowed request is committed at once and commit is nil; mirrors model.ts gcra.
-- A denied request writes nothing.
local function gcraWrite(key, tat, f, ttl)
  redis.call('HSET', key, 'tat', tat, 'f', f)
  redis.call('PEXPIRE', key, ttl)
end
ALGOS['gcra'] = {fields = {'tat', 'f', 'b'}, run = function(st, key, _log, L, W, B, cost, now, direct)
  local tol = B * W
  local base = 0
  local tat = tonumber(st[1])
  if tat then
    local f = tonumber(st[2]) or 0
    if tat > now or (tat == now and f > 0) then base = (tat - now) * L + f end
  end
  local nxt = base + cost * W
  if nxt > tol then
    return false, math.max(0, math.floor((tol - base) / W)), math.ceil(base / L), math.ceil((nxt - tol) / L)
  end
  local reset = math.ceil(nxt / L)
  local tat2, f2, ttl = now + math.floor(nxt / L), nxt % L, math.max(1, reset)
  if direct then
    gcraWrite(key, tat2, f2, ttl)
    return true, math.floor((tol - nxt) / W), reset, 0
  end
  return true, math.floor((tol - nxt) / W), reset, 0, function() gcraWrite(key, tat2, f2, ttl) end
end}
-- refund() moves the theoretical arrival time back by `cost` units (never before now); returns whether
-- anything was given back; mirrors model.ts refund. The key's lifetime is only extended.
ALGOS['gcra'].refund = function(st, key, _log, L, W, _burst, cost, now)
  local tat = tonumber(st[1])
  if not tat then return false end
  local f = tonumber(st[2]) or 0
  local base = 0
  if tat > now or (tat == now and f > 0) then base = (tat - now) * L + f end
  if base <= 0 then return false end
  local nb = math.max(0, base - cost * W)
  redis.call('HSET', key, 'tat', now + math.floor(nb / L), 'f', nb % L)
  local ttl = math.max(1, math.ceil(nb / L))
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  return true
end
