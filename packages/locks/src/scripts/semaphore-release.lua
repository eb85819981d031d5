-- Returns a semaphore permit (or read share) if it is still held, and wakes the waiters.
-- KEYS[1] holders zset (permit id -> expiry ms), KEYS[2] wake-up channel (same hash tag)
-- ARGV[1] permit id, ARGV[2] sharded pub/sub (0 | 1)
-- Reply: 1 released; 0 not held (expired or never taken: lease lost)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not expiry then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call(ARGV[2] == '1' and 'SPUBLISH' or 'PUBLISH', KEYS[2], '')
if expiry <= now then return 0 end
return 1
