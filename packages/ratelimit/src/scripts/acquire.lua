-- acquire.lua: takes one concurrency slot (a lease) if fewer than `limit` are held.
-- KEYS[1]: leases zset (member = lease token, score = expiry time in ms)
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: limit; ARGV[3]: lease ms; ARGV[4]: token
-- Reply: {acquired (1/0), held after the call, ms until the earliest lease expires (0 if none)}.
-- Expired leases (holders that crashed) are dropped first.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local limit = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
local function earliest()
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #first == 0 then return 0 end
  return tonumber(first[2]) - now
end
if held >= limit then
  return {0, held, earliest()}
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now))
return {1, held + 1, earliest()}
