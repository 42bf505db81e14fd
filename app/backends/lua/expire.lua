-- Drop up to ARGV[4] final jobs that ended before now - retention, with their bindings
-- and index entries (also when Redis has already expired the job hash). Returns how many.

local horizon = '(' .. num(NOW_N - tonumber(ARGV[2]))
local ids = redis.call('ZRANGEBYSCORE', key('ended'), '-inf', horizon, 'LIMIT', 0,
  tonumber(ARGV[4]))
for _, id in ipairs(ids) do
  local request_id = redis.call('HGET', key('job', id), 'request_id')
  if request_id then
    local bound = redis.call('GET', key('req', request_id))
    if bound == id then
      redis.call('DEL', key('req', request_id))
    end
  end
  redis.call('DEL', key('job', id))
  for _, state in ipairs(FINAL) do
    redis.call('ZREM', key('state', state), id)
  end
  redis.call('ZREM', key('jobs'), id)
  redis.call('ZREM', key('ended'), id)
end
return #ids
