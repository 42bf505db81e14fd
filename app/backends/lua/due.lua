-- Active jobs past their deadline, earliest first: flat (job_id, attempt, reason) triples.
-- ARGV[4] limit. Entries of jobs that are no longer active are dropped on the way.

local ids = redis.call('ZRANGEBYSCORE', key('deadlines'), '-inf', '(' .. NOW, 'LIMIT', 0,
  tonumber(ARGV[4]))
local found = {}
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', key('job', id), 'state', 'attempt')
  if v[1] == 'assigned' then
    found[#found + 1] = {id, v[2], 'dispatch timeout'}
  elseif v[1] == 'running' then
    found[#found + 1] = {id, v[2], 'run timeout'}
  else
    redis.call('ZREM', key('deadlines'), id)
  end
end
return found
