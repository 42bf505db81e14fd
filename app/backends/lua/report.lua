-- Apply a node's report about one attempt of a job.
-- ARGV[4] job_id, ARGV[5] attempt, ARGV[6] node_id, ARGV[7] event, ARGV[8] result (JSON),
-- ARGV[9] error ('' for none), ARGV[10] retryable ('1' or '0'), ARGV[11] when the handler
-- began by the node's clock ('' if not known).

local job_id, attempt, node_id, event = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local job = load_job(job_id)
if not job then
  return {'missing', 'no such job', {}}
end
if tonumber(job.attempt) ~= tonumber(attempt) or job.node_id ~= node_id then
  return reply('stale', job_id, 'attempt ' .. attempt .. ' from ' .. node_id)
end
if not active(job) then
  return reply('refused', job_id, event .. ' on a ' .. job.state .. ' job')
end

local job_key = key('job', job_id)
if (event == 'succeeded' or event == 'failed') and ARGV[11] ~= '' then
  -- The end overtook the start: keep when the run began (never later than now).
  redis.call('HSETNX', job_key, 'started_at', num(math.min(tonumber(ARGV[11]), NOW_N)))
end
if event == 'accepted' or event == 'started' then
  if job.state ~= 'assigned' then
    return reply('refused', job_id, event .. ' on a running job')
  end
  redis.call('ZREM', key('deadlines'), job_id)
  redis.call('HSET', job_key, 'updated_at', NOW)
end

if event == 'started' then
  redis.call('HINCRBY', key('node', node_id), 'reserved', -1)
  redis.call('HINCRBY', key('node', node_id), 'running', 1)
  set_state(job, 'running')
  redis.call('HSET', job_key, 'started_at', NOW)
  if job.timeout_s then
    redis.call('ZADD', key('deadlines'), num(NOW_N + tonumber(job.timeout_s)), job_id)
  end
elseif event == 'succeeded' then
  redis.call('HSET', job_key, 'result', ARGV[8])
  finish(job, 'succeeded', nil)
elseif event == 'failed' then
  local err = ARGV[9] ~= '' and ARGV[9] or 'the handler failed'
  if ARGV[10] == '1' and tonumber(job.attempt) < tonumber(job.max_attempts) then
    requeue(job, err)
  else
    finish(job, 'failed', err)
  end
end
return reply('applied', job_id)
