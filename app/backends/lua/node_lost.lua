-- Mark a node offline and requeue its active jobs. ARGV[4] node_id.
-- Returns one reply per requeued job.

local node_id = ARGV[4]
local node_key = key('node', node_id)
local status = redis.call('HGET', node_key, 'status')
if not status or status == 'offline' then
  return {}
end
redis.call('HSET', node_key, 'status', 'offline')

local ids = redis.call('SMEMBERS', key('node', node_id, 'jobs'))
table.sort(ids)
local replies = {}
for _, id in ipairs(ids) do
  local job = load_job(id)
  if job then
    requeue(job, 'node lost')
    replies[#replies + 1] = reply('applied', id)
  end
end
-- Every slot is free now; reset in case a count ever drifted from the job set.
redis.call('DEL', key('node', node_id, 'jobs'), key('node', node_id, 'unlisted'))
redis.call('HSET', node_key, 'running', 0, 'reserved', 0)
return replies
