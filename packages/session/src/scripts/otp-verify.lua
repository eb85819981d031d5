-- Checks a one-time code: single use (deleted on success), failed attempts counted here (so across
-- processes), and after maxAttempts failures the code is dropped and the subject locked. The comparison is
-- of keyed hashes (HMAC-SHA-256), so its timing tells an attacker nothing about the code.
-- KEYS[1] code hash (h, a), KEYS[2] resend throttle, KEYS[3] lock
-- ARGV[1] hash of the input, ARGV[2] max attempts, ARGV[3] lock ms
-- Reply: {1} valid; {0, attempts left} wrong or no code; {-2, retry after ms} locked
local lock = redis.call('PTTL', KEYS[3])
if lock > 0 then return {-2, lock} end
local h = redis.call('HGET', KEYS[1], 'h')
if not h then return {0, 0} end
if h == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {1}
end
local a = redis.call('HINCRBY', KEYS[1], 'a', 1)
local max = tonumber(ARGV[2])
if a >= max then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
  return {-2, tonumber(ARGV[3])}
end
return {0, max - a}
