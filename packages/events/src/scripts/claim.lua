-- Reclaims entries of a consumer group that have been pending longer than min-idle (a crashed consumer's,
-- or ones whose handler failed), with XAUTOCLAIM, and moves those delivered more than max-deliveries times
-- to the dead-letter stream (XADD + XACK, atomically, so a dead letter is written once).
--
-- KEYS[1] the stream
-- KEYS[2] its dead-letter stream (same hash tag)
-- ARGV[1] group
-- ARGV[2] consumer (the new owner)
-- ARGV[3] min-idle time (ms)
-- ARGV[4] XAUTOCLAIM start cursor ('0-0' to start over)
-- ARGV[5] COUNT
-- ARGV[6] max deliveries
-- ARGV[7] dead-letter stream MAXLEN (approximate)
-- ARGV[8] now (ms), stored with dead letters
--
-- Reply: { next cursor, { { id, deliveries, { field, value, ... } }, ... }, number dead-lettered }
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local max = tonumber(ARGV[6])
local out = {}
local dead = 0
for _, entry in ipairs(claimed[2]) do
  if entry and entry[1] then
    local id = entry[1]
    local info = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local deliveries = 1
    if info[1] then deliveries = tonumber(info[1][4]) end
    if deliveries > max then
      local fields = entry[2] or {}
      local args = { 'XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*' }
      for i = 1, #fields do args[#args + 1] = fields[i] end
      args[#args + 1] = 'dlq-id'
      args[#args + 1] = id
      args[#args + 1] = 'dlq-reason'
      args[#args + 1] = 'max-deliveries'
      args[#args + 1] = 'dlq-deliveries'
      args[#args + 1] = tostring(deliveries - 1)
      args[#args + 1] = 'dlq-group'
      args[#args + 1] = ARGV[1]
      args[#args + 1] = 'dlq-at'
      args[#args + 1] = ARGV[8]
      redis.call(unpack(args))
      redis.call('XACK', KEYS[1], ARGV[1], id)
      dead = dead + 1
    else
      out[#out + 1] = { id, deliveries, entry[2] or {} }
    end
  end
end
return { claimed[1], out, dead }
