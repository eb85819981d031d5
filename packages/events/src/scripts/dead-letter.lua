-- Moves one pending entry to the dead-letter stream: XADD there, then XACK it in the group, atomically.
-- Does nothing when the entry is no longer pending in the group (another consumer settled it).
--
-- KEYS[1] the stream
-- KEYS[2] its dead-letter stream (same hash tag)
-- ARGV[1] group
-- ARGV[2] entry id
-- ARGV[3] reason ('invalid' | 'failed')
-- ARGV[4] deliveries so far
-- ARGV[5] error message (may be empty)
-- ARGV[6] dead-letter stream MAXLEN (approximate)
-- ARGV[7] now (ms)
-- ARGV[8..] the entry's fields and values
--
-- Reply: 1 when dead-lettered, 0 when the entry was not pending
local info = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if not info[1] then return 0 end
local args = { 'XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*' }
for i = 8, #ARGV do args[#args + 1] = ARGV[i] end
args[#args + 1] = 'dlq-id'
args[#args + 1] = ARGV[2]
args[#args + 1] = 'dlq-reason'
args[#args + 1] = ARGV[3]
args[#args + 1] = 'dlq-deliveries'
args[#args + 1] = ARGV[4]
args[#args + 1] = 'dlq-group'
args[#args + 1] = ARGV[1]
args[#args + 1] = 'dlq-at'
args[#args + 1] = ARGV[7]
if ARGV[5] ~= '' then
  args[#args + 1] = 'dlq-error'
  args[#args + 1] = ARGV[5]
end
redis.call(unpack(args))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
