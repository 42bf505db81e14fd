-- Create a job once per request_id, reserving a slot on the first free candidate.
-- ARGV[4] job_id, ARGV[5] request_id, ARGV[6] fingerprint, ARGV[7] field count n,
-- ARGV[8 .. 7+n] the job hash as field/value pairs, then the counter count m and m
-- counter names, then the candidate node ids.

local job_id, request_id, fingerprint = ARGV[4], ARGV[5], ARGV[6]
local binding_key = key('req', request_id)
local bound = redis.call('GET', binding_key)

if bound then
  local sep = string.find(bound, ' ', 1, true)
  local bound_id = string.sub(bound, 1, sep - 1)
  -- A binding whose job hash already expired is as good as no binding.
  if redis.call('EXISTS', key('job', bound_id)) == 1 then
    local same = string.sub(bound, sep + 1) == fingerprint
    local outcome = same and 'existing' or 'conflict'
    redis.call('HINCRBY', key('stats'), same and 'repeats' or 'conflicts', 1)
    return reply(outcome, bound_id)
  end
end

local n_fields = tonumber(ARGV[7])
local fields = {}
for i = 8, 7 + n_fields do
  fields[#fields + 1] = ARGV[i]
end
local job_key = key('job', job_id)
redis.call('HSET', job_key, unpack(fields))
redis.call('HSET', job_key, 'state', 'pending', 'attempt', '0')
redis.call('HDEL', job_key, 'node_id', 'assigned_at', 'started_at', 'finished_at')
redis.call('SET', binding_key, job_id .. ' ' .. fingerprint)
redis.call('ZADD', key('jobs'), 0, job_id)
redis.call('ZADD', key('state', 'pending'), 0, job_id)

local counters_at = 8 + n_fields
local n_counters = tonumber(ARGV[counters_at])
redis.call('HINCRBY', key('stats'), 'created', 1)
for i = counters_at + 1, counters_at + n_counters do
  redis.call('HINCRBY', key('stats'), ARGV[i], 1)
end

local job = load_job(job_id)
local node_id = first_free(counters_at + n_counters + 1)
if node_id then
  place(job, node_id)
else
  redis.call('ZADD', key('backlog'), num(-(tonumber(job.priority) or 0)), job_id)
end
return reply('created', job_id)
