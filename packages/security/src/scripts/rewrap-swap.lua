-- Replaces a value by its re-encrypted copy only if nobody wrote the key since it was read (compare and
-- swap), keeping its TTL.
-- KEYS[1] the value's key
-- ARGV[1] the bytes that were read, ARGV[2] the re-encrypted bytes
-- Reply: 1 swapped; 0 the value changed or expired meanwhile (left alone)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
