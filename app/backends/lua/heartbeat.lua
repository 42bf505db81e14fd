-- Record a node's heartbeat; running and reserved counts stay the store's own.
-- ARGV[4] node_id, ARGV[5] capabilities, ARGV[6] kinds, ARGV[7] labels (JSON),
-- ARGV[8] slots, ARGV[9] cpu_percent, ARGV[10] memory_percent, ARGV[11] hostname,
-- ARGV[12] draining ('1' or '0'), ARGV[13] the ids of the jobs the node says it runs
-- (JSON), ARGV[14] the agent's incarnation ('' when it has none).

local node_id = ARGV[4]
local node_key = key('node', node_id)
-- An operator's drain holds until the operator resumes the node, also across a restart.
local held = redis.call('HGET', node_key, 'operator_draining') == '1'
local draining = ARGV[12] == '1' or held
local listed = cjson.decode(ARGV[13])

-- A new incarnation means the agent process started again: the jobs its previous process
-- was running will never report, so they go back to the backlog now.
local incarnation = ARGV[14]
local before = redis.call('HGET', node_key, 'incarnation')
if incarnation ~= '' and before and before ~= '' and before ~= incarnation then
  local still = {}
  for _, id in ipairs(listed) do
    still[id] = true
  end
  local ids = redis.call('SMEMBERS', key('node', node_id, 'jobs'))
  table.sort(ids)
  for _, id in ipairs(ids) do
    local job = load_job(id)
    if job and job.state == 'running' and not still[id] then
      requeue(job, 'node ' .. node_id .. ' restarted')
    end
  end
  redis.call('HINCRBY', node_key, 'restarts', 1)
end

redis.call('HSET', node_key,
  'node_id', node_id, 'capabilities', ARGV[5], 'kinds', ARGV[6], 'labels', ARGV[7],
  'slots', ARGV[8], 'cpu_percent', ARGV[9], 'memory_percent', ARGV[10],
  'hostname', ARGV[11], 'last_seen', NOW, 'reported_running', #listed,
  'operator_draining', held and '1' or '0', 'draining', draining and '1' or '0',
  'status', draining and 'draining' or 'alive', 'incarnation', incarnation)
redis.call('HSETNX', node_key, 'running', 0)
redis.call('HSETNX', node_key, 'reserved', 0)
redis.call('SADD', key('nodes'), node_id)
return redis.call('HGETALL', node_key)
