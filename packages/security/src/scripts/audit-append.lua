-- Appends an audit entry to the hash chain if the chain head is still the one the caller hashed against
-- (optimistic concurrency: two writers never fork the chain).
-- KEYS[1] audit stream, KEYS[2] chain head hash (fields: hash, anchor)
-- ARGV[1] expected previous hash ('' for the first entry), ARGV[2] the new entry's hash,
-- ARGV[3..] field, value pairs of the entry
-- Reply: the entry id; or false when the head moved (hash again and retry)
local head = redis.call('HGET', KEYS[2], 'hash') or ''
if head ~= ARGV[1] then return false end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('HSET', KEYS[2], 'hash', ARGV[2])
return id
