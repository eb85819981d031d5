-- Releases a mutex lease if (and only if) the caller still owns it, and wakes a waiter if any.
-- KEYS[1] lock ("token\nowner\nholder\nacquired ms\nhold count"), KEYS[2] wake-up channel (same hash tag),
-- KEYS[3] fair queue zset, KEYS[4] fair queue deadlines hash, KEYS[5] waiters zset (owner -> deadline ms)
-- ARGV[1] owner, ARGV[2] token, ARGV[3] sharded pub/sub (0 | 1), ARGV[4] handoff ms: while waiters exist the
-- lock is not deleted but handed off (value '~handoff' for this long) so a woken waiter, not a newcomer, gets it
-- Reply: 1 released; 2 still held (reentrant count decremented); 0 not the owner (lease lost)
local current = redis.call('GET', KEYS[1])
local prefix = ARGV[2] .. '\n' .. ARGV[1] .. '\n'
if not current or string.sub(current, 1, #prefix) ~= prefix then return 0 end
local rest, count = string.match(current, '^(.*\n)([^\n]*)$')
if tonumber(count) > 1 then
  redis.call('SET', KEYS[1], rest .. (tonumber(count) - 1), 'KEEPTTL')
  return 2
end
if redis.call('EXISTS', KEYS[5]) == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 1)
if redis.call('ZCARD', KEYS[5]) == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], '~handoff', 'PX', ARGV[4])
-- In a fair queue only the live head is woken; '' wakes a waiter of each process.
local wake = ''
if redis.call('EXISTS', KEYS[3]) == 1 then
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
end
redis.call(ARGV[3] == '1' and 'SPUBLISH' or 'PUBLISH', KEYS[2], wake)
return 1
