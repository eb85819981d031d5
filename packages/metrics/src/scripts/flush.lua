-- Applies one flush batch of one metric (all keys share the metric's {name} hash tag: one cluster slot),
-- at most once per (process id, sequence number), so a batch retried after a lost reply is not counted twice.
-- KEYS[1] sequence hash (process id -> last applied sequence), KEYS[2..n] data keys (bucket hashes, HLLs)
-- ARGV[1] process id, ARGV[2] sequence (fixed-width decimal string: compared as a string),
-- ARGV[3] sequence hash ttl ms, then for each data key in order: ttl ms (0 = none), op count,
-- and op count triples (op, field, value): 'i' HINCRBY, 'f' HINCRBYFLOAT, 's' HSET, 'u' PFADD value
-- Reply: 1 applied; 0 already applied (duplicate, ignored)
local last = redis.call('HGET', KEYS[1], ARGV[1])
if last and last >= ARGV[2] then return 0 end
local a = 4
for k = 2, #KEYS do
  local key = KEYS[k]
  local ttl = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, n do
    local op, field, value = ARGV[a], ARGV[a + 1], ARGV[a + 2]
    a = a + 3
    if op == 'i' then
      redis.call('HINCRBY', key, field, value)
    elseif op == 'f' then
      redis.call('HINCRBYFLOAT', key, field, value)
    elseif op == 's' then
      redis.call('HSET', key, field, value)
    else
      redis.call('PFADD', key, value)
    end
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
