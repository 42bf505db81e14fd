-- Hold lease ARGV[4] for owner ARGV[5] for ARGV[6] seconds; 1 if held, 0 if another has it.
-- The value is "<until> <owner>"; the key's own expiry only cleans up abandoned leases.

local lease_key = key('lease', ARGV[4])
local owner, ttl = ARGV[5], tonumber(ARGV[6])
local held = redis.call('GET', lease_key)
if held then
  local sep = string.find(held, ' ', 1, true)
  local holder = string.sub(held, sep + 1)
  if holder ~= owner and tonumber(string.sub(held, 1, sep - 1)) > NOW_N then
    return 0
  end
end
redis.call('SET', lease_key, num(NOW_N + ttl) .. ' ' .. owner, 'PX',
  math.max(1, math.ceil(ttl * 1000)))
return 1
