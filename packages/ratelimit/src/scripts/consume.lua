-- consume.lua: checks a request against one or more rules and consumes from all of them, or from none.
-- Run as: "local ALGOS = {}" .. the algorithm modules the rules use .. this driver (see limiter.ts), so
-- each algorithm stays in its own file and several rules of different algorithms run in one atomic call.
-- KEYS: 3 per rule, all sharing the user key's {hash tag}: state hash, log zset (sliding-log), block key;
--       then, when analytics are on, one more: the key's stats hash (fields "<rule>:a" and "<rule>:d").
-- ARGV[1]: mode, 'c' (consume) or 'p' (peek: check only, write nothing but expired-entry trims)
-- ARGV[2]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[3]: cost (units)
-- ARGV[4]: lifetime of the stats hash in ms (used when the stats key is given)
-- ARGV[5 + 6(i-1) .. 10 + 6(i-1)]: rule i: name, algorithm, limit, window ms, burst, penalty ms (0: none)
-- Reply: {allowed (1/0), now, then per rule: allowed (1/0), remaining, resetAfterMs, retryAfterMs,
--        blocked (1/0)}. A denied request consumes from no rule; a rule with a penalty that denied it
--        blocks the key for that long (block key value = blocked-until time, in the same clock).
local mode = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cost = tonumber(ARGV[3])
local n = math.floor(#KEYS / 3)
local stats = KEYS[3 * n + 1]
local results = {}
local ok = true
for i = 1, n do
  local a = 6 + 6 * (i - 1)
  local block = KEYS[3 * i]
  local untilMs = tonumber(redis.call('GET', block))
  local r
  if untilMs and untilMs > now then
    r = {false, 0, untilMs - now, untilMs - now, nil, true}
  else
    local algo = ALGOS[ARGV[a]]
    r = algo(KEYS[3 * i - 2], KEYS[3 * i - 1], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]),
      tonumber(ARGV[a + 3]), cost, now)
  end
  r.penalty = tonumber(ARGV[a + 4])
  r.name = ARGV[a - 1]
  r.block = block
  if not r[1] then ok = false end
  results[i] = r
end
if mode == 'c' then
  for i = 1, n do
    local r = results[i]
    if ok then
      r[5]()
    elseif not r[1] and not r[6] and r.penalty > 0 then
      redis.call('SET', r.block, now + r.penalty, 'PX', r.penalty)
      r[3] = math.max(r[3], r.penalty)
      r[4] = math.max(r[4], r.penalty)
      r[6] = true
    end
  end
  if stats then
    for i = 1, n do
      local r = results[i]
      redis.call('HINCRBY', stats, r.name .. (ok and ':a' or ':d'), 1)
    end
    redis.call('PEXPIRE', stats, tonumber(ARGV[4]))
  end
end
local reply = {ok and 1 or 0, now}
for i = 1, n do
  local r = results[i]
  reply[#reply + 1] = r[1] and 1 or 0
  reply[#reply + 1] = r[2]
  reply[#reply + 1] = r[3]
  reply[#reply + 1] = r[4]
  reply[#reply + 1] = r[6] and 1 or 0
end
return reply
