-- Appends a batch of events to a stream in one atomic call. A consumer blocked on the stream (XREADGROUP
-- BLOCK) is then woken once with the whole batch: pipelined XADDs wake it at the first one, which costs a
-- read and an XACK more per batch.
--
-- KEYS[1] the stream
-- ARGV[1] number of trim arguments t (0, or 3: 'MAXLEN' | 'MINID', '~' | '=', the threshold)
-- ARGV[2..1+t] the trim arguments
-- ARGV[2+t] the envelope version (the entries' `v` field)
-- ARGV[3+t..] one `data` field (the event's JSON) per entry
--
-- Reply: the new entries' ids, in order
local t = tonumber(ARGV[1])
local args = { 'XADD', KEYS[1] }
for i = 2, 1 + t do args[#args + 1] = ARGV[i] end
args[#args + 1] = '*'
args[#args + 1] = 'v'
args[#args + 1] = ARGV[2 + t]
args[#args + 1] = 'data'
local last = #args + 1
local ids = {}
for i = 3 + t, #ARGV do
  args[last] = ARGV[i]
  ids[#ids + 1] = redis.call(unpack(args))
end
return ids
