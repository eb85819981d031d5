-- consume.lua: decides a batch of requests, one after the other, each against one or more rules: a
-- request consumes from all of its rules, or from none.
-- Run as: "local ALGOS = {}" .. the algorithm modules the rules use .. this driver (see engine.ts), so each
-- algorithm stays in its own file and several rules of different algorithms run in one atomic call.
-- Requests issued together are sent together (one call per node, per slot on a cluster); each is decided
-- exactly as if it had been sent alone, in order.
-- KEYS: per request, per rule: the state hash (which also holds the block: field b = blocked-until time),
--       then for sliding-log rules the log zset; all sharing the request key's {hash tag}; then, when
--       ARGV[2] > 0, the key's stats hash (fields "<rule>:a" and "<rule>:d").
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: lifetime of the stats hashes in ms (0: no stats keys)
-- ARGV[3]: P, the number of rule parameter sets; then P times: name, algorithm, limit, window ms, burst,
--          penalty ms (0: none)
-- then per request: mode ('c' consume, 'p' peek: write nothing but expired-entry trims), cost, R (rules),
--          then R indices (1-based) into the parameter sets
-- Reply: {now, then per request: allowed (1/0), then per rule: allowed (1/0), remaining, resetAfterMs,
--        retryAfterMs, blocked (1/0)}. A rule with a penalty that denied a request blocks the key for that
--        long (field b of the state hash = blocked-until time, in the same clock).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local statsTtl = tonumber(ARGV[2])
local P = tonumber(ARGV[3])
local params = {}
for p = 1, P do
  local a = 4 + 6 * (p - 1)
  params[p] = {ARGV[a], ALGOS[ARGV[a + 1]], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]),
    tonumber(ARGV[a + 5])}
end
local arg = 4 + 6 * P
local k = 1
local reply = {now}
while arg <= #ARGV do
  local mode = ARGV[arg]
  local cost = tonumber(ARGV[arg + 1])
  local n = tonumber(ARGV[arg + 2])
  local results, ps, ks = {}, {}, {}
  local ok = true
  for i = 1, n do
    local p = params[tonumber(ARGV[arg + 2 + i])]
    local algo = p[2]
    local key = KEYS[k]
    local log
    if algo.log then
      log = KEYS[k + 1]
      k = k + 2
    else
      k = k + 1
    end
    local st = redis.call('HMGET', key, unpack(algo.fields))
    local untilMs = tonumber(st[#algo.fields])
    local r
    if untilMs and untilMs > now then
      r = {false, 0, untilMs - now, untilMs - now, nil, true}
    else
      -- a lone rule that allows a request commits at once (no other rule can veto it)
      r = algo.run(st, key, log, p[3], p[4], p[5], cost, now, n == 1 and mode == 'c')
    end
    ps[i] = p
    ks[i] = key
    if not r[1] then ok = false end
    results[i] = r
  end
  arg = arg + 3 + n
  if mode == 'c' then
    for i = 1, n do
      local r = results[i]
      local penalty = ps[i][6]
      if ok then
        if r[5] then r[5]() end
      elseif not r[1] and not r[6] and penalty > 0 then
        redis.call('HSET', ks[i], 'b', now + penalty)
        if redis.call('PTTL', ks[i]) < penalty then redis.call('PEXPIRE', ks[i], penalty) end
        r[3] = math.max(r[3], penalty)
        r[4] = math.max(r[4], penalty)
        r[6] = true
      end
    end
  end
  if statsTtl > 0 then
    if mode == 'c' then
      for i = 1, n do
        redis.call('HINCRBY', KEYS[k], ps[i][1] .. (ok and ':a' or ':d'), 1)
      end
      redis.call('PEXPIRE', KEYS[k], statsTtl)
    end
    k = k + 1
  end
  reply[#reply + 1] = ok and 1 or 0
  for i = 1, n do
    local r = results[i]
    reply[#reply + 1] = r[1] and 1 or 0
    reply[#reply + 1] = r[2]
    reply[#reply + 1] = r[3]
    reply[#reply + 1] = r[4]
    reply[#reply + 1] = r[6] and 1 or 0
  end
end
return reply
