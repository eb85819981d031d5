-- Acquires a read-write lock in read (shared) or write (exclusive) mode. Writers have preference: while a
-- writer waits, new readers wait too, so a stream of readers cannot starve writers.
-- KEYS[1] readers zset (id -> expiry ms), KEYS[2] writer lease ("token\nid\n\nacquired ms\n1", as a mutex),
-- KEYS[3] writer-waiting flag, KEYS[4] fencing counter (all one hash tag)
-- ARGV[1] mode ('r' | 'w'), ARGV[2] id, ARGV[3] ttl ms, ARGV[4] fencing mode ('clock' | 'counter'),
-- ARGV[5] writer-waiting flag ttl ms
-- Reply: {1, token} acquired; {0, retry hint ms} must wait
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local writer = redis.call('PTTL', KEYS[2])
if ARGV[1] == 'r' then
  if writer > 0 then return {0, writer} end
  local waiting = redis.call('PTTL', KEYS[3])
  if waiting > 0 then return {0, waiting} end
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
else
  local wait = 0
  if writer > 0 then
    wait = writer
  elseif redis.call('ZCARD', KEYS[1]) > 0 then
    wait = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) - now
  end
  if wait > 0 then
    redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[5])
    return {0, wait}
  end
  redis.call('DEL', KEYS[3])
end
local token
if ARGV[4] == 'clock' then
  local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
  token = math.max(tonumber(redis.call('GET', KEYS[4]) or '0') + 1, micros)
  redis.call('SET', KEYS[4], string.format('%.0f', token))
else
  token = redis.call('INCR', KEYS[4])
end
if ARGV[1] == 'w' then
  redis.call('SET', KEYS[2], string.format('%.0f', token) .. '\n' .. ARGV[2] .. '\n\n' .. now .. '\n1', 'PX', ttl)
end
return {1, token}
