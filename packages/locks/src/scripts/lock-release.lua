-- Releases mutex leases if (and only if) the caller still owns each, and wakes a waiter where one waits, for
-- one or more requests (the releases one process makes in the same tick, one slot on a cluster), in order.
-- Request i (from 0) has KEYS[5i+1 .. 5i+5]: lock ("token\nowner\nholder\nacquired ms\nhold count"),
--   wake-up channel (same hash tag), fair queue zset, fair queue deadlines hash, waiters zset (owner -> deadline ms)
-- ARGV[1] sharded pub/sub (0 | 1), ARGV[2] handoff ms: while waiters exist the lock is not deleted but handed
--   off (value '~handoff' for this long) so a woken waiter, not a newcomer, gets it;
--   request i has ARGV[2i+3], ARGV[2i+4]: owner, token
-- Reply: one value per request: 1 released; 2 still held (reentrant count decremented); 0 not the owner
--   (lease lost); an error message (string) when this request failed on the server (the others stand)
local now

local function one(k, a)
  local current = redis.call('GET', KEYS[k + 1])
  local prefix = ARGV[a + 1] .. '\n' .. ARGV[a] .. '\n'
  if not current or string.sub(current, 1, #prefix) ~= prefix then return 0 end
  -- Hold count 1 (ends in "\n1", the common case) needs no parsing.
  if not (string.byte(current, -1) == 49 and string.byte(current, -2) == 10) then
    local rest, count = string.match(current, '^(.*\n)([^\n]*)$')
    if tonumber(count) > 1 then
      redis.call('SET', KEYS[k + 1], rest .. (tonumber(count) - 1), 'KEEPTTL')
      return 2
    end
  end
  if redis.call('EXISTS', KEYS[k + 5]) == 0 then
    redis.call('DEL', KEYS[k + 1])
    return 1
  end
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 5], '-inf', now - 1)
  if redis.call('ZCARD', KEYS[k + 5]) == 0 then
    redis.call('DEL', KEYS[k + 1])
    return 1
  end
  redis.call('SET', KEYS[k + 1], '~handoff', 'PX', ARGV[2])
  -- In a fair queue only the live head is woken; '' wakes a waiter of each process.
  local wake = ''
  if redis.call('EXISTS', KEYS[k + 3]) == 1 then
    for _ = 1, 100 do
      local first = redis.call('ZRANGE', KEYS[k + 3], 0, 0)[1]
      if not first then break end
      if tonumber(redis.call('HGET', KEYS[k + 4], first) or '0') >= now then
        wake = first
        break
      end
      redis.call('ZREM', KEYS[k + 3], first)
      redis.call('HDEL', KEYS[k + 4], first)
    end
  end
  redis.call(ARGV[1] == '1' and 'SPUBLISH' or 'PUBLISH', KEYS[k + 2], wake)
  return 1
end

local out = {}
for i = 0, #KEYS / 5 - 1 do
  local ok, status = pcall(one, 5 * i, 2 * i + 3)
  if not ok then status = type(status) == 'table' and (status.err or 'error') or tostring(status) end
  out[i + 1] = status
end
return out
