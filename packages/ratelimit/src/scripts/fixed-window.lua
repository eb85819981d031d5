-- fixed-window.lua: algorithm module of the consume script (prepended to consume.lua, not run alone).
-- Counts units per window aligned to the epoch: window start w = now - now % W.
-- State KEYS (from the driver): state hash {w = window start, n = units used}; the log key is unused.
-- Function reply: {allowed, remaining, resetAfterMs, retryAfterMs, commit()}; mirrors model.ts fixedWindow.
-- A denied request writes nothing.
ALGOS['fixed-window'] = function(key, _log, limit, W, _burst, cost, now)
  local w = now - (now % W)
  local st = redis.call('HMGET', key, 'w', 'n')
  local n = 0
  if tonumber(st[1]) == w then n = tonumber(st[2]) or 0 end
  local reset = w + W - now
  if n + cost > limit then
    return {false, math.max(0, limit - n), reset, reset}
  end
  local n2 = n + cost
  return {true, math.max(0, limit - n2), reset, 0, function()
    redis.call('HSET', key, 'w', w, 'n', n2)
    redis.call('PEXPIRE', key, reset)
  end}
end
