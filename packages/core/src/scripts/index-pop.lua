-- Reads and deletes an index set in one step, so concurrent invalidations never both act on it.
-- KEYS[1] index set
-- ARGV none
-- Reply: array of member keys
local members = redis.call('SMEMBERS', KEYS[1])
if #members > 0 then
  redis.call('DEL', KEYS[1])
end
return members
