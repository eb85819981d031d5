-- breaker-record.lua: counts the outcome of a call made while the breaker was closed, in a sliding window
-- of time buckets, and opens the breaker when the failure rate over the window reaches the threshold.
-- KEYS[1]: the breaker's hash: s = state ('c' closed, 'o' open, 'h' half-open), g = generation (bumped on
--          every transition), u = open until (ms, server clock), p = probes granted, k = probes succeeded,
--          t = half-open since; b<index>o / b<index>f = successes / failures of one time bucket
-- ARGV[1]: 1 success, 0 failure; ARGV[2]: window ms; ARGV[3]: buckets per window; ARGV[4]: minimum calls;
-- ARGV[5]: failure rate threshold (0..1); ARGV[6]: open for ms; ARGV[7]: channel; ARGV[8]: key lifetime ms
-- Reply: {state, generation, ms until the open state ends (0 unless open)}. An outcome arriving while the
-- breaker is open or half-open (a call started before it opened) is not counted.
-- Publishes '<state>:<generation>:<ms>' on ARGV[7] when it opens.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local st = redis.call('HMGET', key, 's', 'g', 'u')
local state = st[1] or 'c'
local gen = tonumber(st[2]) or 0
if state == 'o' then
  return {'o', gen, math.max(0, (tonumber(st[3]) or now) - now)}
end
if state == 'h' then
  return {'h', gen, 0}
end
local windowMs = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local bucketMs = math.max(1, math.floor(windowMs / n))
local b = math.floor(now / bucketMs)
redis.call('HINCRBY', key, 'b' .. b .. (ARGV[1] == '1' and 'o' or 'f'), 1)
local calls, fails = 0, 0
local fields = redis.call('HKEYS', key)
local stale = {}
for _, f in ipairs(fields) do
  local idx, kind = string.match(f, '^b(%d+)([of])$')
  if idx then
    if tonumber(idx) <= b - n then
      stale[#stale + 1] = f
    else
      local c = tonumber(redis.call('HGET', key, f))
      calls = calls + c
      if kind == 'f' then fails = fails + c end
    end
  end
end
if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
redis.call('PEXPIRE', key, tonumber(ARGV[8]))
if calls >= tonumber(ARGV[4]) and fails / calls >= tonumber(ARGV[5]) then
  local openFor = tonumber(ARGV[6])
  gen = gen + 1
  local drop = {}
  for _, f in ipairs(fields) do
    if string.match(f, '^b%d+[of]$') then drop[#drop + 1] = f end
  end
  redis.call('HDEL', key, unpack(drop))
  redis.call('HSET', key, 's', 'o', 'g', gen, 'u', now + openFor, 'p', 0, 'k', 0)
  redis.call('PUBLISH', ARGV[7], 'o:' .. gen .. ':' .. openFor)
  return {'o', gen, openFor}
end
return {'c', gen, 0}
