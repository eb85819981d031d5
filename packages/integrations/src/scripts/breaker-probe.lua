-- breaker-probe.lua: reports the outcome of a probe granted by breaker-acquire.lua. A failed probe opens
-- the breaker again; when every probe has succeeded the breaker closes (with an empty window).
-- KEYS[1]: the breaker's hash (fields: see breaker-record.lua)
-- ARGV[1]: 1 success, 0 failure; ARGV[2]: the generation the probe was granted in; ARGV[3]: half-open
-- probes; ARGV[4]: open for ms; ARGV[5]: channel; ARGV[6]: key lifetime ms
-- Reply: {state, generation, ms until the open state ends (0 unless open)}. A report for an older
-- generation (the breaker moved on meanwhile) changes nothing.
-- Publishes '<state>:<generation>:<ms>' on ARGV[5] on every transition.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local st = redis.call('HMGET', key, 's', 'g', 'u', 'k')
local state = st[1] or 'c'
local gen = tonumber(st[2]) or 0
if state ~= 'h' or gen ~= tonumber(ARGV[2]) then
  local left = 0
  if state == 'o' then left = math.max(0, (tonumber(st[3]) or now) - now) end
  return {state, gen, left}
end
if ARGV[1] ~= '1' then
  gen = gen + 1
  local openFor = tonumber(ARGV[4])
  redis.call('HSET', key, 's', 'o', 'g', gen, 'u', now + openFor, 'p', 0, 'k', 0)
  redis.call('PUBLISH', ARGV[5], 'o:' .. gen .. ':' .. openFor)
  return {'o', gen, openFor}
end
local ok = (tonumber(st[4]) or 0) + 1
if ok < tonumber(ARGV[3]) then
  redis.call('HSET', key, 'k', ok)
  return {'h', gen, 0}
end
gen = gen + 1
redis.call('DEL', key)
redis.call('HSET', key, 's', 'c', 'g', gen)
redis.call('PEXPIRE', key, tonumber(ARGV[6]))
redis.call('PUBLISH', ARGV[5], 'c:' .. gen .. ':0')
return {'c', gen, 0}
