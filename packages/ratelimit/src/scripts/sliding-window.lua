-- sliding-window.lua: algorithm module of the consume script (prepended to consume.lua, not run alone).
-- Sliding window counter: the previous window's count weighted by the part of it still inside the
-- sliding window, plus the current window's count (assumes the previous window's requests were spread
-- evenly: the documented approximation).
-- State (from the driver): hash {w = current window start, c = current count, p = previous,
-- b = blocked until}, read as st = HMGET(fields); no log key.
-- run() returns allowed, remaining, resetAfterMs, retryAfterMs, commit (a function); with `direct`, an
-- allowed request is committed at once and commit is nil; mirrors model.ts slidingWindow.
-- A denied request writes nothing.
local function slidingWindowWrite(key, cw, cur2, prev, ttl)
  redis.call('HSET', key, 'w', cw, 'c', cur2, 'p', prev)
  redis.call('PEXPIRE', key, ttl)
end
ALGOS['sliding-window'] = {fields = {'w', 'c', 'p', 'b'}, run = function(st, key, _log, limit, W, _burst, cost, now, direct)
  local cw = now - (now % W)
  local sw = tonumber(st[1])
  local cur, prev = 0, 0
  if sw == cw then
    cur = tonumber(st[2]) or 0
    prev = tonumber(st[3]) or 0
  elseif sw == cw - W then
    prev = tonumber(st[2]) or 0
  end
  local e = now - cw
  local est = (prev * (W - e)) / W + cur
  if est + cost > limit then
    local need = limit - cost
    local retry
    if cur <= need then
      retry = math.ceil(W - e - ((need - cur) * W) / prev)
    else
      retry = W - e + math.max(0, math.ceil(W - (need * W) / cur))
    end
    local reset = W - e
    if cur > 0 then reset = 2 * W - e end
    return false, math.max(0, math.floor(limit - est)), reset, math.max(1, retry)
  end
  local cur2 = cur + cost
  local est2 = (prev * (W - e)) / W + cur2
  local reset = 0
  if cur2 > 0 then reset = 2 * W - e elseif prev > 0 then reset = W - e end
  local ttl = 2 * W - e
  if direct then
    slidingWindowWrite(key, cw, cur2, prev, ttl)
    return true, math.max(0, math.floor(limit - est2)), reset, 0
  end
  return true, math.max(0, math.floor(limit - est2)), reset, 0, function() slidingWindowWrite(key, cw, cur2, prev, ttl) end
end}
-- refund() gives back `cost` units, from the current window first, then the previous one; returns whether
-- anything was given back; mirrors model.ts refund. The key's lifetime is only extended.
ALGOS['sliding-window'].refund = function(st, key, _log, _limit, W, _burst, cost, now)
  local cw = now - (now % W)
  local sw = tonumber(st[1])
  local cur, prev = 0, 0
  if sw == cw then
    cur = tonumber(st[2]) or 0
    prev = tonumber(st[3]) or 0
  elseif sw == cw - W then
    prev = tonumber(st[2]) or 0
  end
  if cur <= 0 and prev <= 0 then return false end
  local take = math.min(cur, cost)
  redis.call('HSET', key, 'w', cw, 'c', cur - take, 'p', math.max(0, prev - (cost - take)))
  local ttl = 2 * W - (now - cw)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  return true
end
