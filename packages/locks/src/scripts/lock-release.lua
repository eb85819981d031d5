-- Releases a mutex lease if (and only if) the caller still owns it, and wakes the waiters.
-- KEYS[1] lock hash, KEYS[2] wake-up channel (same hash tag), KEYS[3] fair queue zset,
-- KEYS[4] fair queue deadlines hash
-- ARGV[1] owner, ARGV[2] token, ARGV[3] sharded pub/sub (0 | 1)
-- Reply: 1 released; 2 still held (reentrant count decremented); 0 not the owner (lease lost)
local current = redis.call('HMGET', KEYS[1], 'o', 't', 'n')
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return 0 end
if tonumber(current[3] or '1') > 1 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
  return 2
end
redis.call('DEL', KEYS[1])
-- In a fair queue only the live head is woken; '' wakes every waiter.
local wake = ''
local now = 0
if redis.call('EXISTS', KEYS[3]) == 1 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
for _ = 1, 100 do
  local first = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
  if not first then break end
  if tonumber(redis.call('HGET', KEYS[4], first) or '0') >= now then
    wake = first
    break
  end
  redis.call('ZREM', KEYS[3], first)
  redis.call('HDEL', KEYS[4], first)
end
redis.call(ARGV[3] == '1' and 'SPUBLISH' or 'PUBLISH', KEYS[2], wake)
return 1
