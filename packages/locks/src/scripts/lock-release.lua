-- Releases mutex leases if (and only if) the caller still owns each, and hands each to a waiter where one
-- waits, for one or more requests (the releases one process makes in the same tick, one slot on a cluster),
-- in order. Also takes a waiter's give-up: it leaves the waiters (and the fair queue), and a lock a release
-- handed it meanwhile is released in turn.
-- Request i (from 0) has KEYS[6i+1 .. 6i+6]: lock ("token\nowner\nholder\nacquired ms\nhold count"),
--   wake-up channel (same hash tag), fair queue zset, fair queue deadlines hash, waiters zset (member ->
--   deadline ms; see lock-acquire.lua for members), fencing counter
-- ARGV[1] sharded pub/sub (0 | 1), ARGV[2] handoff ms, ARGV[3] fencing mode ('clock' | 'counter');
--   request i has ARGV[2i+4], ARGV[2i+5]: owner and token, or a waiter's member and '' (give-up)
-- While live waiters exist the lock is not deleted. When the next waiter (the fair queue's live head, else
-- the waiter with the oldest entry) takes a direct handoff, the lock becomes its lease at once, with a new
-- fencing token, and "\nowner\ntoken\nelapsed ms" is published (elapsed since its entry was written, which
-- bounds when its lease started; the leading line break sets it apart from a wake-up naming an owner or a queue
-- entry, which never starts with one); otherwise the lock is reserved ('~handoff' for ARGV[2] ms) so that a woken
-- waiter, not a newcomer, gets it, and '' (or the fair head's owner) is published.
-- Reply: one value per request: 1 released; 2 still held (reentrant count decremented); 0 not the owner
--   (lease lost; for a give-up: held no lock); an error message (string) when this request failed on the
--   server (the others stand)
local t

local function clock()
  if not t then t = redis.call('TIME') end
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Gives the lock to waiter `member` ("owner\nttl\nentry ttl\nholder") entered at `score`.
local function handTo(k, member, score, fair)
  local owner, ttl, qttl, holder = string.match(member, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$')
  local now = clock()
  local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local token = tonumber(redis.call('GET', KEYS[k + 6]) or '0') + 1
  if ARGV[3] == 'clock' then token = math.max(token, micros) end
  local tokenText = string.format('%.0f', token)
  local nowText = t[1] .. string.sub(string.rep('0', 6 - #t[2]) .. t[2], 1, 3)
  redis.call('SET', KEYS[k + 6], tokenText)
  redis.call('SET', KEYS[k + 1], tokenText .. '\n' .. owner .. '\n' .. holder .. '\n' .. nowText .. '\n1', 'PX', ttl)
  redis.call('ZREM', KEYS[k + 5], member)
  if fair then
    redis.call('ZREM', KEYS[k + 3], member)
    redis.call('HDEL', KEYS[k + 4], member)
  end
  local elapsed = 0
  if score then elapsed = math.max(0, now - (tonumber(score) - tonumber(qttl)) - 1) end
  return '\n' .. owner .. '\n' .. tokenText .. '\n' .. elapsed
end

-- The lock is free of its holder: delete it, or hand it on while live waiters exist.
local function free(k)
  if redis.call('EXISTS', KEYS[k + 5]) == 0 then
    redis.call('DEL', KEYS[k + 1])
    return
  end
  local now = clock()
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 5], '-inf', now - 1)
  local oldest = redis.call('ZRANGE', KEYS[k + 5], 0, 0, 'WITHSCORES')
  if not oldest[1] then
    redis.call('DEL', KEYS[k + 1])
    return
  end
  -- In a fair queue only the live head may have it; otherwise the waiter with the oldest entry.
  local next, score, fair = oldest[1], oldest[2], false
  if redis.call('EXISTS', KEYS[k + 3]) == 1 then
    fair, next = true, ''
    for _ = 1, 100 do
      local first = redis.call('ZRANGE', KEYS[k + 3], 0, 0)[1]
      if not first then break end
      if tonumber(redis.call('HGET', KEYS[k + 4], first) or '0') >= now then
        next = first
        break
      end
      redis.call('ZREM', KEYS[k + 3], first)
      redis.call('HDEL', KEYS[k + 4], first)
    end
    score = next ~= '' and redis.call('ZSCORE', KEYS[k + 5], next) or nil
  end
  local message = ''
  if string.find(next, '\n', 1, true) then
    message = handTo(k, next, score, fair)
  else
    redis.call('SET', KEYS[k + 1], '~handoff', 'PX', ARGV[2])
    -- '' wakes a waiter of each process; a fair head's owner wakes only that waiter.
    if fair then message = next end
  end
  redis.call(ARGV[1] == '1' and 'SPUBLISH' or 'PUBLISH', KEYS[k + 2], message)
end

-- A waiter gives up: it leaves the waiters, and a lock a release handed it meanwhile is released too.
local function giveUp(k, member)
  redis.call('ZREM', KEYS[k + 5], member)
  redis.call('ZREM', KEYS[k + 3], member)
  redis.call('HDEL', KEYS[k + 4], member)
  -- Only a direct waiter can have been handed the lock (a plain owner may be another acquisition's too).
  if not string.find(member, '\n', 1, true) then return 0 end
  local owner = string.match(member, '^[^\n]*')
  local current = redis.call('GET', KEYS[k + 1])
  if not current or string.match(current, '^[^\n]*\n([^\n]*)\n') ~= owner then return 0 end
  free(k)
  return 1
end

local function one(k, a)
  if ARGV[a + 1] == '' then return giveUp(k, ARGV[a]) end
  local current = redis.call('GET', KEYS[k + 1])
  local prefix = ARGV[a + 1] .. '\n' .. ARGV[a] .. '\n'
  if not current or string.sub(current, 1, #prefix) ~= prefix then return 0 end
  -- Hold count 1 (ends in "\n1", the common case) needs no parsing.
  if not (string.byte(current, -1) == 49 and string.byte(current, -2) == 10) then
    local rest, count = string.match(current, '^(.*\n)([^\n]*)$')
    if tonumber(count) > 1 then
      redis.call('SET', KEYS[k + 1], rest .. (tonumber(count) - 1), 'KEEPTTL')
      return 2
    end
  end
  free(k)
  return 1
end

local out = {}
for i = 0, #KEYS / 6 - 1 do
  local ok, status = pcall(one, 6 * i, 2 * i + 4)
  if not ok then status = type(status) == 'table' and (status.err or 'error') or tostring(status) end
  out[i + 1] = status
end
return out
