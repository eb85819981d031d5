-- Takes one permit of a counting semaphore; permits expire by the server's clock.
-- KEYS[1] holders zset (permit id -> expiry ms), KEYS[2] fencing counter (same hash tag)
-- ARGV[1] permit id, ARGV[2] limit, ARGV[3] ttl ms, ARGV[4] fencing mode ('clock' | 'counter')
-- Reply: {1, token} acquired; {0, ms until the earliest permit expires} full
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now}
end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
local token
if ARGV[4] == 'clock' then
  local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
  token = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, micros)
  redis.call('SET', KEYS[2], string.format('%.0f', token))
else
  token = redis.call('INCR', KEYS[2])
end
return {1, token}
