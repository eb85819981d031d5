-- getOrSet: takes the lease only while the value is still missing, so a process whose read missed just
-- before another process stored the value (and released the lease) does not compute it a second time.
-- KEYS[1] value key, KEYS[2] lease key (same hash tag)
-- ARGV[1] owner token, ARGV[2] lease length (ms)
-- Reply: integer, 1 the lease is ours, 0 another owner holds it, 2 the value is there now (read it)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 2
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
