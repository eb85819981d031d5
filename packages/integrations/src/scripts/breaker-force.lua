-- breaker-force.lua: moves the breaker to a state by hand (an operator's override or a reset).
-- KEYS[1]: the breaker's hash (fields: see breaker-record.lua)
-- ARGV[1]: 'c' to close (and empty the window) or 'o' to open; ARGV[2]: open for ms (when opening);
-- ARGV[3]: channel; ARGV[4]: key lifetime ms
-- Reply: {state, generation, ms until the open state ends (0 unless open)}.
-- Publishes '<state>:<generation>:<ms>' on ARGV[3].
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local gen = (tonumber(redis.call('HGET', key, 'g')) or 0) + 1
redis.call('DEL', key)
if ARGV[1] == 'o' then
  local openFor = tonumber(ARGV[2])
  redis.call('HSET', key, 's', 'o', 'g', gen, 'u', now + openFor, 'p', 0, 'k', 0)
  redis.call('PEXPIRE', key, math.max(tonumber(ARGV[4]), openFor))
  redis.call('PUBLISH', ARGV[3], 'o:' .. gen .. ':' .. openFor)
  return {'o', gen, openFor}
end
redis.call('HSET', key, 's', 'c', 'g', gen)
redis.call('PEXPIRE', key, tonumber(ARGV[4]))
redis.call('PUBLISH', ARGV[3], 'c:' .. gen .. ':0')
return {'c', gen, 0}
