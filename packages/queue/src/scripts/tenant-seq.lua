-- tenant-seq.lua: counts the jobs a tenant added in the current fairness window.
-- KEYS[1]: the tenant's counter (a string, expiring at the end of the window)
-- ARGV[1]: jobs added now (n >= 1); ARGV[2]: the window in ms
-- Reply: the counter after adding n (the added jobs are numbered reply - n + 1 .. reply).
local total = redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
if total == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) end
return total
