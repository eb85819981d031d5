-- block.lua: blocks a key under one or more rules until now + duration, in the limiter's clock.
-- KEYS: the block key of each rule (all sharing the user key's {hash tag})
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: duration in ms (> 0)
-- Reply: the blocked-until time in ms. A longer existing block is kept.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ms = tonumber(ARGV[2])
local untilMs = now + ms
for _, key in ipairs(KEYS) do
  local current = tonumber(redis.call('GET', key))
  if not current or current < untilMs then
    redis.call('SET', key, untilMs, 'PX', ms)
  end
end
return untilMs
