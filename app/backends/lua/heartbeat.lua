-- Record a node's heartbeat; running and reserved counts stay the store's own.
-- ARGV[4] node_id, ARGV[5] capabilities, ARGV[6] kinds, ARGV[7] labels (JSON),
-- ARGV[8] slots, ARGV[9] cpu_percent, ARGV[10] memory_percent, ARGV[11] hostname,
-- ARGV[12] draining ('1' or '0'), ARGV[13] the ids of the jobs the node says it runs
-- (JSON), ARGV[14] the agent's incarnation ('' when it has none).
--
-- A job the store has as running on the node but the node does not list has ended there
-- and its report is on its way, or the report was lost, or the agent process that ran it
-- is gone. A new incarnation (the agent started again) requeues such jobs at once; a job
-- left unlisted longer than the dispatch timeout is requeued as well.
-- Returns the node's fields and one reply per job taken back.

local node_id = ARGV[4]
local node_key = key('node', node_id)
local unlisted_key = key('node', node_id, 'unlisted')
-- An operator's drain holds until the operator resumes the node, also across a restart.
local held = redis.call('HGET', node_key, 'operator_draining') == '1'
local draining = ARGV[12] == '1' or held
local listed = cjson.decode(ARGV[13])
local incarnation = ARGV[14]
local before = redis.call('HGET', node_key, 'incarnation')
local restarted = incarnation ~= '' and before and before ~= '' and before ~= incarnation

local taken_back = {}

local function take_back(job, reason)
  requeue(job, reason)
  taken_back[#taken_back + 1] = reply('applied', job.id)
end

local function take_back_unlisted()
  local still = {}
  for _, id in ipairs(listed) do
    still[id] = true
  end
  local since = {}
  local pairs_ = redis.call('HGETALL', unlisted_key)
  for i = 1, #pairs_, 2 do
    since[pairs_[i]] = pairs_[i + 1]
  end
  redis.call('DEL', unlisted_key)
  local ids = redis.call('SMEMBERS', key('node', node_id, 'jobs'))
  table.sort(ids)
  for _, id in ipairs(ids) do
    local job = load_job(id)
    if job and job.state == 'running' and not still[id] then
      local first = since[id] or NOW
      if restarted then
        take_back(job, 'node ' .. node_id .. ' restarted')
      elseif NOW_N - tonumber(first) > DISPATCH_TIMEOUT then
        take_back(job, 'node ' .. node_id .. ' no longer runs it and sent no report')
      else
        redis.call('HSET', unlisted_key, id, first)
      end
    end
  end
end

local counted = tonumber(redis.call('HGET', node_key, 'running')) or 0
if restarted or counted > #listed then
  take_back_unlisted()
end
if restarted then
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
return {redis.call('HGETALL', node_key), taken_back}
