-- Extends a lease (mutex, or the write side of a read-write lock) if (and only if) the caller still owns it.
-- KEYS[1] lock ("token\nowner\n…")
-- ARGV[1] owner, ARGV[2] token, ARGV[3] ttl ms
-- Reply: 1 extended; 0 not the owner (lease lost)
local current = redis.call('GET', KEYS[1])
local prefix = ARGV[2] .. '\n' .. ARGV[1] .. '\n'
if not current or string.sub(current, 1, #prefix) ~= prefix then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
