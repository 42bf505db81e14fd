-- Record scheduler worker ARGV[4] as described by ARGV[5] (JSON with its last_seen), and
-- forget every worker not seen for ARGV[6] seconds.

local workers = key('schedulers')
redis.call('HSET', workers, ARGV[4], ARGV[5])
local forget_before = NOW_N - tonumber(ARGV[6])
local known = redis.call('HGETALL', workers)
for i = 1, #known, 2 do
  if (tonumber(cjson.decode(known[i + 1]).last_seen) or 0) < forget_before then
    redis.call('HDEL', workers, known[i])
  end
end
return 1
