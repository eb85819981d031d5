-- Adds this process's counter deltas to the namespace's shared stats hash (kept for 30 days).
-- KEYS[1] stats hash
-- ARGV field, delta, field, delta, ...
-- Reply: integer 1
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], 2592000000)
return 1
