-- breaker-acquire.lua: asks to make a call while the breaker is not closed. An open breaker whose time is
-- up turns half-open; a half-open breaker grants at most `probes` calls (the probes) in all processes
-- together. A half-open breaker whose probes have not all reported within the probe timeout opens again.
-- KEYS[1]: the breaker's hash (fields: see breaker-record.lua)
-- ARGV[1]: half-open probes; ARGV[2]: open for ms; ARGV[3]: probe timeout ms; ARGV[4]: channel;
-- ARGV[5]: key lifetime ms
-- Reply: {state, generation, ms until the open state ends (0 unless open), granted (1 = this call is a
-- probe, or the breaker is closed and the call may go ahead; 0 = refused)}.
-- Publishes '<state>:<generation>:<ms>' on ARGV[4] on every transition.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local st = redis.call('HMGET', key, 's', 'g', 'u', 'p', 't')
local state = st[1] or 'c'
local gen = tonumber(st[2]) or 0
local openFor = tonumber(ARGV[2])
if state == 'c' then
  return {'c', gen, 0, 1}
end
if state == 'o' then
  local untilMs = tonumber(st[3]) or now
  if now < untilMs then
    return {'o', gen, untilMs - now, 0}
  end
  gen = gen + 1
  redis.call('HSET', key, 's', 'h', 'g', gen, 'p', 0, 'k', 0, 't', now)
  redis.call('PEXPIRE', key, tonumber(ARGV[5]))
  redis.call('PUBLISH', ARGV[4], 'h:' .. gen .. ':0')
  state = 'h'
  st[4] = '0'
  st[5] = tostring(now)
end
-- half-open
if now - (tonumber(st[5]) or now) > tonumber(ARGV[3]) then
  gen = gen + 1
  redis.call('HSET', key, 's', 'o', 'g', gen, 'u', now + openFor, 'p', 0, 'k', 0)
  redis.call('PUBLISH', ARGV[4], 'o:' .. gen .. ':' .. openFor)
  return {'o', gen, openFor, 0}
end
local granted = tonumber(st[4]) or 0
if granted < tonumber(ARGV[1]) then
  redis.call('HINCRBY', key, 'p', 1)
  return {'h', gen, 0, 1}
end
return {'h', gen, 0, 0}
