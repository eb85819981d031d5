-- refund.lua: gives back units a request consumed, under each of its rules (see each algorithm's refund()).
-- Run as: "local ALGOS = {}" .. the algorithm modules the rules use .. this driver (see engine.ts).
-- KEYS: per rule: the state hash, then for sliding-log rules the log zset; all sharing the request key's
--       {hash tag}
-- ARGV[1]: now in ms from the client clock, or '' to read the server clock (TIME)
-- ARGV[2]: cost (units to give back)
-- then per rule: algorithm, limit, window ms, burst
-- Reply: the number of rules that gave units back. Blocks (field b) are not lifted.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cost = tonumber(ARGV[2])
local k = 1
local given = 0
for a = 3, #ARGV, 4 do
  local algo = ALGOS[ARGV[a]]
  local key = KEYS[k]
  local log
  if algo.log then
    log = KEYS[k + 1]
    k = k + 2
  else
    k = k + 1
  end
  local W = tonumber(ARGV[a + 2])
  local st = algo.read and algo.read(key, W, now) or redis.call('HMGET', key, unpack(algo.fields))
  if algo.refund(st, key, log, tonumber(ARGV[a + 1]), W, tonumber(ARGV[a + 3]), cost, now) then
    given = given + 1
  end
end
return given
