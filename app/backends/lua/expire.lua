-- Drop up to ARGV[4] final jobs that ended before now - retention, with their bindings
-- and index entries (also when Redis has already expired the job hash). Returns how many.
--
-- Final jobs are found oldest first in their state indexes, whose members (ULIDs) sort by
-- creation time. NOTE: a walk stops at the first job still within its retention, so a job
-- that ended early but was created after a long-running one leaves with that one.

local horizon = NOW_N - tonumber(ARGV[2])
local budget = tonumber(ARGV[4])
local dropped = 0

local function drop(id, request_id)
  if request_id and redis.call('GET', key('req', request_id)) == id then
    redis.call('DEL', key('req', request_id))
  end
  redis.call('DEL', key('job', id))
  for _, state in ipairs(FINAL) do
    redis.call('ZREM', key('state', state), id)
  end
  redis.call('ZREM', key('jobs'), id)
  dropped = dropped + 1
end

for _, state in ipairs(FINAL) do
  local ids = redis.call('ZRANGEBYLEX', key('state', state), '-', '+', 'LIMIT', 0, budget)
  for _, id in ipairs(ids) do
    local v = redis.call('HMGET', key('job', id), 'request_id', 'finished_at')
    local finished = tonumber(v[2])
    if finished and finished >= horizon then
      break
    end
    drop(id, v[1])
    budget = budget - 1
  end
  if budget <= 0 then
    break
  end
end
return dropped
