-- Acquires mutex leases, with fencing tokens, optional FIFO fairness and optional reentrancy, for one or
-- more requests: the acquisitions one process makes in the same tick arrive in one call (one slot on a
-- cluster) and are decided in order, each as if it had been sent alone.
-- Request i (from 0) has KEYS[5i+1 .. 5i+5]:
--   lock: string "token\nowner\nholder\nacquired ms\nhold count", with the lease as its PX TTL
--   fencing counter (same hash tag; outlives the lock)
--   fair queue zset (member -> enqueue time in µs: arrival order)
--   fair queue deadlines hash (member -> ms after which the waiter is presumed gone)
--   waiters zset (member -> ms after which the waiter is presumed gone): a release hands off and publishes a
--   wake-up only while it has live entries
--   A waiter's member is its owner, or "owner\nttl ms\nentry ttl ms\nholder" for a waiter that takes a
--   direct handoff: the release sets the lock to that waiter's lease and publishes "\nowner\ntoken\nelapsed ms".
-- ARGV[1] fencing mode ('clock' | 'counter'), ARGV[2] holder id (the process, for diagnostics);
--   request i has ARGV[4i+3 .. 4i+6]: owner, ttl ms, queue entry / waiters marker ttl ms, flags: five
--   '0'/'1' characters
--   fair, reentrant,
--   waited: the caller already failed an attempt; only such callers may take a lock that a release handed
--   off to waiters (value '~handoff'), so newcomers cannot barge past them,
--   will wait: register as a waiter when the lock is busy (not for one-shot attempts),
--   direct: the owner is unique to this acquisition, so a release may hand the lock straight to it
-- Reply: three values per request: {1, token, holdCount} acquired; {0, pttl ms, holder id} held by another;
--   {2, pttl hint ms, ''} queued; {3, 0, error message} this request failed on the server (the others stand);
--   {4, token, pttl ms} a release already handed the lock to this waiter (its notification was missed)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- The common clock token as text, made once per call (string.format is among the dearest steps here).
local micros6 = string.rep('0', 6 - #t[2]) .. t[2]
local microsText = t[1] .. micros6
-- The acquisition time (ms) as text without number formatting (Lua's number-to-string is a sprintf).
local nowText = t[1] .. string.sub(micros6, 1, 3)
local clock = ARGV[1] == 'clock'
local holder = ARGV[2]
local ONE = 49 -- '1'

-- The member of a waiter that takes a direct handoff: what the release needs to give it its lease.
local function memberOf(owner, ttl, qttl)
  return owner .. '\n' .. ttl .. '\n' .. qttl .. '\n' .. holder
end

-- Registers the caller as a waiter (and in the fair queue) when it will wait.
local function waiting(k, member, qttl, fair, willWait)
  if not willWait then return end
  local keep = qttl * 2
  redis.call('ZADD', KEYS[k + 5], now + qttl, member)
  redis.call('PEXPIRE', KEYS[k + 5], keep)
  if fair then
    -- Arrival order even for waiters enqueued by one call (same TIME): after the current tail.
    local score = micros
    local last = redis.call('ZRANGE', KEYS[k + 3], -1, -1, 'WITHSCORES')[2]
    if last and tonumber(last) >= score then score = tonumber(last) + 1 end
    redis.call('ZADD', KEYS[k + 3], 'NX', score, member)
    redis.call('HSET', KEYS[k + 4], member, now + qttl)
    redis.call('PEXPIRE', KEYS[k + 3], keep)
    redis.call('PEXPIRE', KEYS[k + 4], keep)
  end
end

-- Drops queue heads whose waiter stopped refreshing its entry; returns the live head or false.
local function head(k)
  for _ = 1, 100 do
    local first = redis.call('ZRANGE', KEYS[k + 3], 0, 0)[1]
    if not first then return false end
    local deadline = tonumber(redis.call('HGET', KEYS[k + 4], first) or '0')
    if deadline >= now then return first end
    redis.call('ZREM', KEYS[k + 3], first)
    redis.call('HDEL', KEYS[k + 4], first)
  end
  return false
end

local function acquired(k, member, tokenText, waited, fair)
  redis.call('SET', KEYS[k + 2], tokenText)
  if waited then redis.call('ZREM', KEYS[k + 5], member) end
  if fair then
    redis.call('ZREM', KEYS[k + 3], member)
    redis.call('HDEL', KEYS[k + 4], member)
  end
end

-- One request: KEYS from k + 1, ARGV from a.
local function one(k, a)
  local owner, ttl, qttl, flags = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
  local fair = string.byte(flags, 1) == ONE
  local waited = string.byte(flags, 3) == ONE
  local willWait = string.byte(flags, 4) == ONE
  local direct = string.byte(flags, 5) == ONE
  -- The uncontended acquisition (not fair, first attempt, lock free) never builds it.
  local member = owner
  if direct and (fair or waited) then member = memberOf(owner, ttl, ARGV[a + 2]) end
  if fair then
    local first = head(k)
    if first and first ~= member and redis.call('EXISTS', KEYS[k + 1]) == 0 then
      waiting(k, member, qttl, fair, willWait)
      return 2, qttl, ''
    end
  end
  local token = tonumber(redis.call('GET', KEYS[k + 2]) or '0') + 1
  -- max(previous + 1, server time in µs): monotonic even when a restart without persistence lost the counter
  if clock then token = math.max(token, micros) end
  local tokenText = token == micros and microsText or string.format('%.0f', token)
  local value = tokenText .. '\n' .. owner .. '\n' .. holder .. '\n' .. nowText .. '\n1'
  if redis.call('SET', KEYS[k + 1], value, 'NX', 'PX', ttl) then
    acquired(k, member, tokenText, waited, fair)
    return 1, token, 1
  end
  local current = redis.call('GET', KEYS[k + 1])
  local pttl = redis.call('PTTL', KEYS[k + 1])
  if direct and member == owner then member = memberOf(owner, ttl, ARGV[a + 2]) end
  if current == '~handoff' then
    if waited and not (fair and head(k) and head(k) ~= member) then
      redis.call('SET', KEYS[k + 1], value, 'PX', ttl)
      acquired(k, member, tokenText, waited, fair)
      return 1, token, 1
    end
    waiting(k, member, qttl, fair, willWait)
    return 0, pttl, ''
  end
  if current then
    local heldToken, heldOwner, heldBy, at, count = string.match(current, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)$')
    -- A direct owner is unique to one acquisition: holding it means a release handed it over.
    if heldOwner == owner and direct then return 4, tonumber(heldToken), pttl end
    if heldOwner == owner and string.byte(flags, 2) == ONE then
      local n = tonumber(count) + 1
      redis.call('SET', KEYS[k + 1], heldToken .. '\n' .. owner .. '\n' .. heldBy .. '\n' .. at .. '\n' .. n, 'PX', ttl)
      return 1, tonumber(heldToken), n
    end
    waiting(k, member, qttl, fair, willWait)
    return 0, pttl, heldBy or ''
  end
  waiting(k, member, qttl, fair, willWait)
  return 0, 0, ''
end

local out = {}
for i = 0, #KEYS / 5 - 1 do
  local ok, status, value, extra = pcall(one, 5 * i, 4 * i + 3)
  if not ok then
    status, value, extra = 3, 0, type(status) == 'table' and (status.err or 'error') or tostring(status)
  end
  out[3 * i + 1] = status
  out[3 * i + 2] = value
  out[3 * i + 3] = extra
end
return out
