-- Removes one entry (value and history) and pops the set of keys that depend on it.
-- KEYS[1] value key, KEYS[2] history key, KEYS[3] dependants set (all share one hash tag)
-- ARGV none
-- Reply: { 1 if the value existed else 0, { dependant value keys } }
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
local deps = redis.call('SMEMBERS', KEYS[3])
if #deps > 0 then
  redis.call('DEL', KEYS[3])
end
return { existed, deps }
