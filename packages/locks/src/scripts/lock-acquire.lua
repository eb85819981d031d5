-- Acquires a mutex lease, with a fencing token, optional FIFO fairness and optional reentrancy.
-- KEYS[1] lock hash {o = owner, t = token, h = holder id, at = acquired ms, n = hold count}
-- KEYS[2] fencing counter (same hash tag; outlives the lock)
-- KEYS[3] fair queue zset (owner -> enqueue time in µs: arrival order)
-- KEYS[4] fair queue deadlines hash (owner -> ms after which the waiter is presumed gone)
-- ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] fencing mode ('clock' | 'counter'), ARGV[4] holder id,
-- ARGV[5] fair (0 | 1), ARGV[6] queue entry ttl ms, ARGV[7] reentrant (0 | 1)
-- Reply: {1, token, holdCount} acquired; {0, pttl ms, holder id} held by another; {2, pttl hint ms, ''} queued
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owner = ARGV[1]
local fair = ARGV[5] == '1'

local function enqueue()
  redis.call('ZADD', KEYS[3], 'NX', tonumber(t[1]) * 1000000 + tonumber(t[2]), owner)
  redis.call('HSET', KEYS[4], owner, now + tonumber(ARGV[6]))
  local keep = tonumber(ARGV[6]) * 2
  redis.call('PEXPIRE', KEYS[3], keep)
  redis.call('PEXPIRE', KEYS[4], keep)
end

-- Drops queue heads whose waiter stopped refreshing its entry; returns the live head or false.
local function head()
  for _ = 1, 100 do
    local first = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
    if not first then return false end
    local deadline = tonumber(redis.call('HGET', KEYS[4], first) or '0')
    if deadline >= now then return first end
    redis.call('ZREM', KEYS[3], first)
    redis.call('HDEL', KEYS[4], first)
  end
  return false
end

local current = redis.call('HMGET', KEYS[1], 'o', 't', 'h')
if current[1] then
  if current[1] == owner and ARGV[7] == '1' then
    local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(current[2]), n}
  end
  if fair then enqueue() end
  return {0, redis.call('PTTL', KEYS[1]), current[3] or ''}
end

if fair then
  local first = head()
  if first and first ~= owner then
    enqueue()
    return {2, tonumber(ARGV[6]), ''}
  end
  if first then
    redis.call('ZREM', KEYS[3], owner)
    redis.call('HDEL', KEYS[4], owner)
  end
end

local token
if ARGV[3] == 'clock' then
  -- max(previous + 1, server time in µs): monotonic even when a restart without persistence lost the counter
  local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
  token = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, micros)
  redis.call('SET', KEYS[2], string.format('%.0f', token))
else
  token = redis.call('INCR', KEYS[2])
end
redis.call('HSET', KEYS[1], 'o', owner, 't', string.format('%.0f', token), 'h', ARGV[4], 'at', now, 'n', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, token, 1}
