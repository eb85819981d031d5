-- Removes an expired connection from a presence registry, one room at a time: its membership of the room
-- in KEYS[3], and with ARGV[3] = '1' (the last call for it) its expiry entry and its record. Does nothing
-- when a heartbeat refreshed the connection since the caller saw it expired.
--
-- KEYS[1] records hash (connection id -> JSON)
-- KEYS[2] expiry sorted set (connection id -> expires at, ms)
-- KEYS[3] the sorted set of one room the record names (or an unused room key)
-- ARGV[1] now (ms)
-- ARGV[2] connection id
-- ARGV[3] '1' to remove the record and expiry entry too, '0' for the room membership only
--
-- Reply: 1 when removed, 0 when still alive
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if score and tonumber(score) > tonumber(ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[3], ARGV[2])
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[1], ARGV[2])
end
return 1
