-- sliding-log.lua: algorithm module of the consume script (prepended to consume.lua, not run alone).
-- Exact sliding log: every allowed request is a sorted-set entry (score = time, member = "seq:cost");
-- the units inside (now - W, now] are summed.
-- State (from the driver): hash {s = sum of costs in the log, q = member sequence, b = blocked until},
-- read as st = HMGET(fields), and the log zset.
-- run() returns allowed, remaining, resetAfterMs, retryAfterMs, commit (a function); with `direct`, an
-- allowed request is committed at once and commit is nil; mirrors model.ts slidingLog.
-- A denied request consumes nothing (expired entries are trimmed, which every reader would do).
ALGOS['sliding-log'] = {fields = {'s', 'b'}, log = true, run = function(st, key, log, limit, W, _burst, cost, now, direct)
  local sum = tonumber(st[1]) or 0
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - W)
  if #old > 0 then
    for _, m in ipairs(old) do
      sum = sum - tonumber(string.match(m, ':(%d+)$'))
    end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - W)
    if sum <= 0 then
      sum = 0
      redis.call('DEL', key)
    else
      redis.call('HSET', key, 's', sum)
    end
  end
  local function lastReset()
    local last = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
    if #last == 0 then return 0 end
    return tonumber(last[2]) + W - now
  end
  if sum + cost > limit then
    local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
    local freed, retry = 0, W
    for i = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
      if sum - freed + cost <= limit then
        retry = tonumber(entries[i + 1]) + W - now
        break
      end
    end
    return false, math.max(0, limit - sum), lastReset(), retry
  end
  local sum2 = sum + cost
  local reset = W
  if cost == 0 then reset = lastReset() end
  local function commit()
    if cost == 0 then return end
    local seq = redis.call('HINCRBY', key, 'q', 1)
    redis.call('HSET', key, 's', sum2)
    redis.call('ZADD', log, now, string.format('%d:%d', seq, cost))
    redis.call('PEXPIRE', key, W)
    redis.call('PEXPIRE', log, W)
  end
  if direct then
    commit()
    return true, math.max(0, limit - sum2), reset, 0
  end
  return true, math.max(0, limit - sum2), reset, 0, commit
end}
-- refund() removes the newest entry of exactly `cost` units inside the window (none: nothing is given
-- back); returns whether anything was given back; mirrors model.ts refund. Lifetimes are kept.
ALGOS['sliding-log'].refund = function(st, key, log, _limit, W, _burst, cost, now)
  local live = redis.call('ZREVRANGEBYSCORE', log, '+inf', '(' .. (now - W))
  for _, m in ipairs(live) do
    if tonumber(string.match(m, ':(%d+)$')) == cost then
      redis.call('ZREM', log, m)
      redis.call('HSET', key, 's', math.max(0, (tonumber(st[1]) or 0) - cost))
      return true
    end
  end
  return false
end
