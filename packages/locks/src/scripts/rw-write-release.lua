-- Releases the write side of a read-write lock if the caller still holds it, and wakes the waiters.
-- KEYS[1] writer lease ("token\nid\n…"), KEYS[2] wake-up channel (same hash tag)
-- ARGV[1] id, ARGV[2] token, ARGV[3] sharded pub/sub (0 | 1)
-- Reply: 1 released; 0 not held (lease lost)
local current = redis.call('GET', KEYS[1])
local prefix = ARGV[2] .. '\n' .. ARGV[1] .. '\n'
if not current or string.sub(current, 1, #prefix) ~= prefix then return 0 end
redis.call('DEL', KEYS[1])
redis.call(ARGV[3] == '1' and 'SPUBLISH' or 'PUBLISH', KEYS[2], '')
return 1
