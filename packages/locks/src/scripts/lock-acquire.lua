-- Acquires a mutex lease, with a fencing token, optional FIFO fairness and optional reentrancy.
-- KEYS[1] lock: string "token\nowner\nholder\nacquired ms\nhold count", with the lease as its PX TTL
-- KEYS[2] fencing counter (same hash tag; outlives the lock)
-- KEYS[3] fair queue zset (owner -> enqueue time in µs: arrival order)
-- KEYS[4] fair queue deadlines hash (owner -> ms after which the waiter is presumed gone)
-- KEYS[5] waiters zset (owner -> ms after which the waiter is presumed gone): a release hands off and
-- publishes a wake-up only while it has live entries
-- ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] fencing mode ('clock' | 'counter'), ARGV[4] holder id,
-- ARGV[5] fair (0 | 1), ARGV[6] queue entry / waiters marker ttl ms, ARGV[7] reentrant (0 | 1),
-- ARGV[8] waited (0 | 1): the caller already failed an attempt; only such callers may take a lock that a
-- release handed off to waiters (value '~handoff'), so newcomers cannot barge past them
-- ARGV[9] will wait (0 | 1): register as a waiter when the lock is busy (not for one-shot attempts)
-- Reply: {1, token, holdCount} acquired; {0, pttl ms, holder id} held by another; {2, pttl hint ms, ''} queued
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owner = ARGV[1]
local fair = ARGV[5] == '1'

local function waiting()
  if ARGV[9] ~= '1' then return end
  local keep = tonumber(ARGV[6]) * 2
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[6]), owner)
  redis.call('PEXPIRE', KEYS[5], keep)
  if fair then
    redis.call('ZADD', KEYS[3], 'NX', tonumber(t[1]) * 1000000 + tonumber(t[2]), owner)
    redis.call('HSET', KEYS[4], owner, now + tonumber(ARGV[6]))
    redis.call('PEXPIRE', KEYS[3], keep)
    redis.call('PEXPIRE', KEYS[4], keep)
  end
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

if fair then
  local first = head()
  if first and first ~= owner and redis.call('EXISTS', KEYS[1]) == 0 then
    waiting()
    return {2, tonumber(ARGV[6]), ''}
  end
end

local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = prev + 1
if ARGV[3] == 'clock' then
  -- max(previous + 1, server time in µs): monotonic even when a restart without persistence lost the counter
  token = math.max(token, tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
local tokenText = string.format('%.0f', token)
local value = tokenText .. '\n' .. owner .. '\n' .. ARGV[4] .. '\n' .. now .. '\n1'
local function acquired()
  redis.call('SET', KEYS[2], tokenText)
  if ARGV[8] == '1' then redis.call('ZREM', KEYS[5], owner) end
  if fair then
    redis.call('ZREM', KEYS[3], owner)
    redis.call('HDEL', KEYS[4], owner)
  end
  return {1, token, 1}
end
if redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2]) then return acquired() end

local current = redis.call('GET', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
if current == '~handoff' then
  if ARGV[8] == '1' and not (fair and head() and head() ~= owner) then
    redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
    return acquired()
  end
  waiting()
  return {0, pttl, ''}
end
if current then
  local heldToken, heldOwner, holder, at, count = string.match(current, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)$')
  if heldOwner == owner and ARGV[7] == '1' then
    local n = tonumber(count) + 1
    redis.call('SET', KEYS[1], heldToken .. '\n' .. owner .. '\n' .. holder .. '\n' .. at .. '\n' .. n, 'PX', ARGV[2])
    return {1, tonumber(heldToken), n}
  end
  waiting()
  return {0, pttl, holder or ''}
end
waiting()
return {0, 0, ''}
