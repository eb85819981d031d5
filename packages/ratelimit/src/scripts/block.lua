-- block.lua: blocks a key under one or more rules until now + duration, in the limiter's clock.
-- KEYS: the state hash of each rule (all sharing the user key's {hash tag}); field b = blocked-until time
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: duration in ms (> 0)
-- Reply: the blocked-until time in ms. A longer existing block is kept; a key's lifetime is only extended.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ms = tonumber(ARGV[2])
local untilMs = now + ms
for _, key in ipairs(KEYS) do
  local current = tonumber(redis.call('HGET', key, 'b'))
  if not current or current < untilMs then
    redis.call('HSET', key, 'b', untilMs)
    if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
  end
end
return untilMs
