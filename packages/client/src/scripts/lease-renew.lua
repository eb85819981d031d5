-- Extends a lease while its owner still holds it.
-- KEYS[1] lease key
-- ARGV[1] owner token, ARGV[2] lease length (ms)
-- Reply: integer, 1 when extended, 0 when the lease is no longer ours (expired or taken by another owner)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
