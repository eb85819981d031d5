-- block.lua: blocks a key under one or more rules until now + duration, in the limiter's clock.
-- KEYS: the state hash of each rule (all sharing the user key's {hash tag}); field b = blocked-until time
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: duration in ms (> 0)
-- ARGV[3..]: per key, the rule's window in ms when it is a fixed-window rule, else 0: a fixed-window count
--            field of the current window also gets BLOCKED added (see fixed-window.lua, same constant), so
--            its one-HINCRBY consume sees the block
-- Reply: the blocked-until time in ms. A longer existing block is kept; a key's lifetime is only extended.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ms = tonumber(ARGV[2])
local untilMs = now + ms
local BLOCKED = 1099511627776
for i, key in ipairs(KEYS) do
  local current = tonumber(redis.call('HGET', key, 'b'))
  if not current or current < untilMs then
    redis.call('HSET', key, 'b', untilMs)
    if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
  end
  local W = tonumber(ARGV[2 + i]) or 0
  if W > 0 then
    local field = 'n:' .. (now - (now % W))
    if (tonumber(redis.call('HGET', key, field)) or 0) < BLOCKED then redis.call('HINCRBY', key, field, BLOCKED) end
  end
end
return untilMs
