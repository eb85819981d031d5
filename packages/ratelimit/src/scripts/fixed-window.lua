-- fixed-window.lua: algorithm module of the consume script (prepended to consume.lua, not run alone).
-- Counts units per window aligned to the epoch: window start w = now - now % W.
-- State (from the driver): hash {w = window start, n = units used, b = blocked until}, read as
-- st = HMGET(fields); no log key.
-- run() returns allowed, remaining, resetAfterMs, retryAfterMs, commit (a function); with `direct`, an
-- allowed request is committed at once and commit is nil (no closure is made: the hot path); mirrors
-- model.ts fixedWindow. A denied request writes nothing.
local function fixedWindowWrite(key, same, w, n2, cost, reset)
  if same then
    -- the key already expires at the end of this window
    redis.call('HINCRBY', key, 'n', cost)
  else
    redis.call('HSET', key, 'w', w, 'n', n2)
    redis.call('PEXPIRE', key, reset)
  end
end
ALGOS['fixed-window'] = {fields = {'w', 'n', 'b'}, run = function(st, key, _log, limit, W, _burst, cost, now, direct)
  local w = now - (now % W)
  local n = 0
  local same = tonumber(st[1]) == w
  if same then n = tonumber(st[2]) or 0 end
  local reset = w + W - now
  if n + cost > limit then
    return false, math.max(0, limit - n), reset, reset
  end
  local n2 = n + cost
  if direct then
    fixedWindowWrite(key, same, w, n2, cost, reset)
    return true, math.max(0, limit - n2), reset, 0
  end
  return true, math.max(0, limit - n2), reset, 0, function() fixedWindowWrite(key, same, w, n2, cost, reset) end
end}
-- refund() gives back `cost` units counted in the current window (a window already over is not touched);
-- returns whether anything was given back; mirrors model.ts refund. The key's lifetime is kept.
ALGOS['fixed-window'].refund = function(st, key, _log, _limit, W, _burst, cost, now)
  local w = now - (now % W)
  local n = tonumber(st[2]) or 0
  if tonumber(st[1]) ~= w or n <= 0 then return false end
  redis.call('HSET', key, 'n', math.max(0, n - cost))
  return true
end
