-- consume.lua: decides a batch of requests, one after the other, each against one or more rules: a
-- request consumes from all of its rules, or from none.
-- Run as: "local ALGOS = {}" .. the algorithm modules the rules use .. this driver (see engine.ts), so each
-- algorithm stays in its own file and several rules of different algorithms run in one atomic call.
-- Requests issued together are sent together (one call per node, per slot on a cluster); each is decided
-- exactly as if it had been sent alone, in order.
-- An algorithm module may add read(key, W, now) (its HMGET, when field names depend on the window),
-- blocked(key, W, now) (called after a penalty sets field b) and consume(key, limit, W, cost, now,
-- penalty) (a one-rule consume decided and committed by the module itself; see fixed-window.lua).
-- KEYS: per request, per rule: the state hash (which also holds the block: field b = blocked-until time),
--       then for sliding-log rules the log zset; all sharing the request key's {hash tag}; then, when
--       ARGV[2] > 0, the key's stats hash (fields "<rule>:a" and "<rule>:d").
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: lifetime of the stats hashes in ms (0: no stats keys)
-- ARGV[3]: P, the number of rule parameter sets; then P times: name, algorithm, limit, window ms, burst,
--          penalty ms (0: none)
-- then per request: mode ('c' consume, 'p' peek: write nothing but expired-entry trims), cost, R (rules),
--          then R indices (1-based) into the parameter sets;
--          or, when every request of the batch has the same mode, cost and rules: 'u', mode, cost, R, the R
--          indices, and the number of requests (the requests then differ only by their KEYS)
-- Reply: {now, then per request, per rule: flags = allowed (1) + blocked (2) + 4 * retryAfterMs, remaining,
--        resetAfterMs} (a request is allowed when every rule of it is: three integers per decision keep
--        the reply, and its parsing in the client, small). A rule with a penalty that denied a request
--        blocks the key for that long (field b of the state hash = blocked-until time, in the same clock).
-- A uniform batch of one-rule requests without stats (one RateLimiter: the common case) runs a loop of
-- its own that keeps no per-request tables.
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
local nargs = #ARGV
local k = 1
local reply = {now}
local out = 1
-- per rule of the current request (reused across requests): allowed, remaining, resetAfterMs,
-- retryAfterMs, commit, blocked, parameters, state key
local A, REM, RS, RT, CM, BL, PS, KS = {}, {}, {}, {}, {}, {}, {}, {}
local uniform = ARGV[arg] == 'u'
local umode, ucost, un, count
local up = {}
if uniform then
  umode, ucost, un = ARGV[arg + 1], tonumber(ARGV[arg + 2]), tonumber(ARGV[arg + 3])
  for i = 1, un do up[i] = params[tonumber(ARGV[arg + 3 + i])] end
  count = tonumber(ARGV[arg + 4 + un])
end
if uniform and un == 1 and statsTtl == 0 then
  local p = up[1]
  local algo, L, W, B, penalty = p[2], p[3], p[4], p[5], p[6]
  local run, fields, haslog, read = algo.run, algo.fields, algo.log, algo.read
  local nf = #fields
  local direct = umode == 'c'
  -- an algorithm may decide and commit a one-rule consume itself (fixed-window: one HINCRBY)
  local fast = direct and algo.consume
  for _ = 1, count do
    local key = KEYS[k]
    local log
    if haslog then
      log = KEYS[k + 1]
      k = k + 2
    else
      k = k + 1
    end
    local a, rem, rs, rt
    local bl = false
    if fast then
      a, rem, rs, rt, bl = fast(key, L, W, ucost, now, penalty)
    else
      local st = read and read(key, W, now) or redis.call('HMGET', key, unpack(fields))
      local untilMs = tonumber(st[nf])
      if untilMs and untilMs > now then
        a, rem, rs, rt, bl = false, 0, untilMs - now, untilMs - now, true
      else
        a, rem, rs, rt = run(st, key, log, L, W, B, ucost, now, direct)
        if not a and direct and penalty > 0 then
          redis.call('HSET', key, 'b', now + penalty)
          if algo.blocked then algo.blocked(key, W, now) end
          if redis.call('PTTL', key) < penalty then redis.call('PEXPIRE', key, penalty) end
          rs = math.max(rs, penalty)
          rt = math.max(rt, penalty)
          bl = true
        end
      end
    end
    reply[out + 1] = (a and 1 or 0) + (bl and 2 or 0) + 4 * rt
    reply[out + 2] = rem
    reply[out + 3] = rs
    out = out + 3
  end
  return reply
end
local done = 0
while (uniform and done < count) or (not uniform and arg <= nargs) do
  done = done + 1
  local mode, cost, n = umode, ucost, un
  if not uniform then
    mode, cost, n = ARGV[arg], tonumber(ARGV[arg + 1]), tonumber(ARGV[arg + 2])
  end
  local ok = true
  for i = 1, n do
    local p = up[i]
    if not uniform then p = params[tonumber(ARGV[arg + 2 + i])] end
    local algo = p[2]
    local key = KEYS[k]
    local log
    if algo.log then
      log = KEYS[k + 1]
      k = k + 2
    else
      k = k + 1
    end
    local st = algo.read and algo.read(key, p[4], now) or redis.call('HMGET', key, unpack(algo.fields))
    local untilMs = tonumber(st[#algo.fields])
    if untilMs and untilMs > now then
      A[i], REM[i], RS[i], RT[i], CM[i], BL[i] = false, 0, untilMs - now, untilMs - now, nil, true
    else
      -- a lone rule that allows a request commits at once (no other rule can veto it)
      A[i], REM[i], RS[i], RT[i], CM[i] = algo.run(st, key, log, p[3], p[4], p[5], cost, now, n == 1 and mode == 'c')
      BL[i] = false
    end
    PS[i] = p
    KS[i] = key
    if not A[i] then ok = false end
  end
  if not uniform then arg = arg + 3 + n end
  if mode == 'c' then
    for i = 1, n do
      local penalty = PS[i][6]
      if ok then
        if CM[i] then CM[i]() end
      elseif not A[i] and not BL[i] and penalty > 0 then
        redis.call('HSET', KS[i], 'b', now + penalty)
        if PS[i][2].blocked then PS[i][2].blocked(KS[i], PS[i][4], now) end
        if redis.call('PTTL', KS[i]) < penalty then redis.call('PEXPIRE', KS[i], penalty) end
        RS[i] = math.max(RS[i], penalty)
        RT[i] = math.max(RT[i], penalty)
        BL[i] = true
      end
    end
  end
  if statsTtl > 0 then
    if mode == 'c' then
      for i = 1, n do
        redis.call('HINCRBY', KEYS[k], PS[i][1] .. (ok and ':a' or ':d'), 1)
      end
      redis.call('PEXPIRE', KEYS[k], statsTtl)
    end
    k = k + 1
  end
  for i = 1, n do
    reply[out + 1] = (A[i] and 1 or 0) + (BL[i] and 2 or 0) + 4 * RT[i]
    reply[out + 2] = REM[i]
    reply[out + 3] = RS[i]
    out = out + 3
  end
end
return reply
