-- The getManyOrSet read of the keys L1 lacks: their values and, for each key without one, the getOrSet lease
-- (`<ns>:l:{key}`, as @cache/client's Lease takes it) in one call where an MGET and then a script per
-- missing key were two round trips and a command per key. Keys the caller is already computing in its own
-- process (flag '0') are only read.
-- KEYS[1..n] value keys, KEYS[n+1..2n] their lease keys (on a cluster all in one slot)
-- ARGV[1] owner token (one for the batch), ARGV[2] lease length (ms), ARGV[3] n flags ('1' take the lease
--   of a missing key, '0' only read)
-- Reply: { values (n, false for none), n chars '1' when this call took the key's lease else '0' }
local n = #KEYS / 2
local values = redis.call('MGET', unpack(KEYS, 1, n))
local leased = {}
for i = 1, n do
  leased[i] = '0'
  if not values[i] and string.byte(ARGV[3], i) == 49 then
    if redis.call('SET', KEYS[n + i], ARGV[1], 'NX', 'PX', ARGV[2]) then
      leased[i] = '1'
    end
  end
end
return { values, table.concat(leased) }
