-- Runs right after a plain SET of a value on the same connection (pipelined: one round trip): adds the value
-- key to its index sets (tags, dependants), keeping each set alive at least as long as its longest-lived
-- member (as @cache/core's index-add.lua does), then, given a lease token, releases the getOrSet lease if it
-- is still ours and publishes the notification its waiters wake on (as @cache/client's lease-release.lua,
-- whether or not it was still ours). The SET itself stays outside the script: a key a script writes is
-- attributed to the script, so CLIENT TRACKING NOLOOP would not recognise it as this connection's own write.
-- KEYS[1] the lease key when ARGV[1] is a token, then the index sets (KEYS[1..n] when ARGV[1] is '')
-- ARGV[1] lease token or '', ARGV[2] member TTL (ms), ARGV[3] member (the value key),
-- ARGV[4] notification channel, ARGV[5] message (both only with a token)
-- Reply: integer, 1 when the lease was ours and was released, else 0
local first = 1
local released = 0
if ARGV[1] ~= '' then
  first = 2
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    released = redis.call('DEL', KEYS[1])
  end
end
local ttl = tonumber(ARGV[2])
for i = first, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
if ARGV[1] ~= '' then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return released
