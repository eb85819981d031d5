-- Reads a mutex lease for diagnostics, timed by the server's clock.
-- KEYS[1] lock hash, KEYS[2] fair queue zset
-- ARGV: none
-- Reply: {} when free; else {owner, token, holder id, held ms, pttl ms, hold count, queued waiters}
local c = redis.call('HMGET', KEYS[1], 'o', 't', 'h', 'at', 'n')
if not c[1] then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {c[1], c[2], c[3] or '', now - tonumber(c[4] or now), redis.call('PTTL', KEYS[1]), tonumber(c[5] or '1'),
  redis.call('ZCARD', KEYS[2])}
