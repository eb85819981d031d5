-- Compare-and-set of a session value (`update()`, and a compaction): the write happens only when the value
-- is still the one the caller loaded, i.e. the same length and header line (chunks only ever grow a value,
-- and a compaction changes its header), so a read-modify-write never loses a parallel write.
-- KEYS[1] session string (see layout.ts)
-- ARGV[1] expected length (bytes), ARGV[2] expected start (the header line and its "\n"),
-- ARGV[3] 'a' (append ARGV[4]) | 's' (set the value to ARGV[4]), ARGV[5] PEXPIREAT ms
-- Reply: 1 written; 0 changed since it was loaded; -1 missing
local len = redis.call('STRLEN', KEYS[1])
if len == 0 then return -1 end
if len ~= tonumber(ARGV[1]) or redis.call('GETRANGE', KEYS[1], 0, #ARGV[2] - 1) ~= ARGV[2] then return 0 end
if ARGV[3] == 'a' then
  redis.call('APPEND', KEYS[1], ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[4])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1
