-- Reads a value and its remaining time to live atomically.
-- KEYS[1] value key
-- ARGV none
-- Reply: { value or false, PTTL in ms (-2 when missing, -1 when it has no TTL) }
return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }
