-- fixed-window.lua: algorithm module of the consume script (prepended to consume.lua, not run alone).
-- Counts units per window aligned to the epoch: window start w = now - now % W.
-- State: hash {n:<w> = units used in the window starting at w, w = the window the key was last set up
-- for, b = blocked until}; no log key. The count's field is named by its window, so a one-rule consume is
-- one HINCRBY (consume()): no read first. A block (field b, set by a penalty or block.lua) also adds
-- BLOCKED to the current window's count, so that HINCRBY sees it; the first units of a window read b.
-- A count at or above BLOCKED whose block is over is the count plus BLOCKED (taken off when seen).
-- read() gives the driver st = {count field, b} for run(), which returns allowed, remaining,
-- resetAfterMs, retryAfterMs, commit (a function); with `direct`, an allowed request is committed at once
-- and commit is nil. Both mirror model.ts fixedWindow. A denied request consumes nothing (consume() takes
-- back what its HINCRBY added).
local BLOCKED = 1099511627776 -- 2^40: above any count (limit and cost are at most 1e9)

-- The first units of a window on this key: forget the previous window's field and live until this one ends.
local function fixedWindowOpen(key, w, reset)
  local old = tonumber(redis.call('HGET', key, 'w'))
  if old ~= w then
    if old then redis.call('HDEL', key, 'n:' .. old) end
    redis.call('HSET', key, 'w', w)
  end
  if redis.call('PTTL', key) < reset then redis.call('PEXPIRE', key, reset) end
end

local function fixedWindowWrite(key, field, w, n, cost, reset)
  local v = redis.call('HINCRBY', key, field, cost)
  if n >= BLOCKED then v = redis.call('HINCRBY', key, field, -BLOCKED) end
  if v == cost then fixedWindowOpen(key, w, reset) end
end

ALGOS['fixed-window'] = {fields = {'n', 'b'}, read = function(key, W, now)
  return redis.call('HMGET', key, 'n:' .. (now - (now % W)), 'b')
end, run = function(st, key, _log, limit, W, _burst, cost, now, direct)
  local w = now - (now % W)
  local raw = tonumber(st[1]) or 0
  local n = raw
  if n >= BLOCKED then n = n - BLOCKED end
  local reset = w + W - now
  if n + cost > limit then
    return false, math.max(0, limit - n), reset, reset
  end
  local n2 = n + cost
  local field = 'n:' .. w
  if direct then
    fixedWindowWrite(key, field, w, raw, cost, reset)
    return true, math.max(0, limit - n2), reset, 0
  end
  return true, math.max(0, limit - n2), reset, 0, function() fixedWindowWrite(key, field, w, raw, cost, reset) end
end}

-- Marks the current window's count as blocked (the driver has just set field b).
ALGOS['fixed-window'].blocked = function(key, W, now)
  local field = 'n:' .. (now - (now % W))
  if (tonumber(redis.call('HGET', key, field)) or 0) < BLOCKED then redis.call('HINCRBY', key, field, BLOCKED) end
end

-- consume() decides and commits a one-rule request in one HINCRBY when the window is under way and the key
-- is not blocked; returns allowed, remaining, resetAfterMs, retryAfterMs, blocked.
ALGOS['fixed-window'].consume = function(key, limit, W, cost, now, penalty)
  local w = now - (now % W)
  local field = 'n:' .. w
  local reset = w + W - now
  local n = redis.call('HINCRBY', key, field, cost)
  if n <= limit then
    if n == cost then
      -- the first units of this window: a block may be on
      local b = tonumber(redis.call('HGET', key, 'b'))
      if b and b > now then
        redis.call('HINCRBY', key, field, BLOCKED - cost)
        return false, 0, b - now, b - now, true
      end
      fixedWindowOpen(key, w, reset)
    end
    return true, limit - n, reset, 0, false
  end
  if n >= BLOCKED then
    local b = tonumber(redis.call('HGET', key, 'b'))
    if b and b > now then
      redis.call('HINCRBY', key, field, -cost)
      return false, 0, b - now, b - now, true
    end
    -- the block is over: the count is what it was before it
    n = redis.call('HINCRBY', key, field, -BLOCKED)
    if n <= limit then
      if n == cost then fixedWindowOpen(key, w, reset) end
      return true, limit - n, reset, 0, false
    end
  end
  n = redis.call('HINCRBY', key, field, -cost)
  if penalty > 0 then
    redis.call('HSET', key, 'b', now + penalty)
    redis.call('HINCRBY', key, field, BLOCKED)
    if redis.call('PTTL', key) < penalty then redis.call('PEXPIRE', key, penalty) end
    return false, math.max(0, limit - n), math.max(reset, penalty), math.max(reset, penalty), true
  end
  return false, math.max(0, limit - n), reset, reset, false
end

-- refund() gives back `cost` units counted in the current window (a window already over is not touched);
-- returns whether anything was given back; mirrors model.ts refund. The key's lifetime is kept.
ALGOS['fixed-window'].refund = function(st, key, _log, _limit, W, _burst, cost, now)
  local n = tonumber(st[1]) or 0
  if n >= BLOCKED then n = n - BLOCKED end
  if n <= 0 then return false end
  redis.call('HINCRBY', key, 'n:' .. (now - (now % W)), -math.min(n, cost))
  return true
end
