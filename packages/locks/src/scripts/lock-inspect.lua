-- Reads a mutex lease for diagnostics, timed by the server's clock.
-- KEYS[1] lock ("token\nowner\nholder\nacquired ms\nhold count"), KEYS[2] fair queue zset
-- ARGV: none
-- Reply: {} when free; else {owner, token, holder id, held ms, pttl ms, hold count, queued waiters}
local current = redis.call('GET', KEYS[1])
if not current or current == '~handoff' then return {} end
local token, owner, holder, at, count = string.match(current, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)$')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {owner, token, holder, now - tonumber(at), redis.call('PTTL', KEYS[1]), tonumber(count),
  redis.call('ZCARD', KEYS[2])}
