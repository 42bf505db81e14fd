-- Prelude put in front of every jobrelay script when it is loaded.
--
-- KEYS[1] is the namespace "{prefix}:"; ARGV[1] is now (seconds), ARGV[2] the retention
-- (seconds) and ARGV[3] the dispatch timeout (seconds); each script's own arguments follow.
--
-- NOTE: scripts derive their keys from the namespace in KEYS[1] instead of declaring each
-- one, because the keys of a job's node are only known after the script has read the job.
-- Every key carries the same hash tag, so in Redis Cluster they share the slot of KEYS[1].
--
-- Job hashes hold flat strings. JSON fields (payload, result, ...) are stored and returned
-- as they are and never decoded here; tried_nodes is a space-separated list of node ids.

local NS = KEYS[1]
local NOW = ARGV[1]
local NOW_N = tonumber(ARGV[1])
local RETENTION_MS = math.max(1, math.ceil(tonumber(ARGV[2]) * 1000))
local DISPATCH_TIMEOUT = tonumber(ARGV[3])
local FINAL = {'succeeded', 'failed', 'cancelled'}
local HISTORY_REASON = 500
local JOB_FIELDS = {
  'state', 'attempt', 'node_id', 'max_attempts', 'priority', 'request_id', 'timeout_s',
  'tried_nodes',
}

local function key(...)
  return NS .. table.concat({...}, ':')
end

-- Lua would print numbers with 14 digits; 17 keep epoch times exact.
local function num(x)
  return string.format('%.17g', x)
end

local function load_job(id)
  local values = redis.call('HMGET', key('job', id), unpack(JOB_FIELDS))
  if not values[1] then
    return nil
  end
  local job = {id = id}
  for i, name in ipairs(JOB_FIELDS) do
    if values[i] then
      job[name] = values[i]
    end
  end
  return job
end

local function reply(outcome, id, detail)
  return {outcome, detail or '', redis.call('HGETALL', key('job', id))}
end

-- The pending job id, or nil and the reply that says why there is none.
local function pending_job(id)
  local job = load_job(id)
  if not job then
    return nil, {'missing', 'no such job', {}}
  end
  if job.state ~= 'pending' then
    return nil, reply('stale', job.id, 'job is ' .. job.state .. ', not pending')
  end
  return job
end

local function set_state(job, state)
  redis.call('ZREM', key('state', job.state), job.id)
  redis.call('ZADD', key('state', state), 0, job.id)
  redis.call('HSET', key('job', job.id), 'state', state, 'updated_at', NOW)
  job.state = state
end

local function active(job)
  return job.state == 'assigned' or job.state == 'running'
end

local function has_slot(node_id)
  local v = redis.call('HMGET', key('node', node_id), 'status', 'slots', 'running', 'reserved',
    'reported_running')
  if v[1] ~= 'alive' then
    return false
  end
  -- The node's own running count wins when higher: a timed-out handler may still run.
  local running = math.max(tonumber(v[3]) or 0, tonumber(v[5]) or 0)
  return running + (tonumber(v[4]) or 0) < (tonumber(v[2]) or 0)
end

-- The first node among ARGV[first..] with a free slot, or nil.
local function first_free(first)
  for i = first, #ARGV do
    if has_slot(ARGV[i]) then
      return ARGV[i]
    end
  end
  return nil
end

-- Reserve a slot on node_id and hand the job to it as the next attempt.
local function place(job, node_id)
  local jk = key('job', job.id)
  redis.call('HINCRBY', key('node', node_id), 'reserved', 1)
  redis.call('SADD', key('node', node_id, 'jobs'), job.id)
  set_state(job, 'assigned')
  job.attempt = tostring((tonumber(job.attempt) or 0) + 1)
  job.node_id = node_id
  redis.call('HSET', jk, 'node_id', node_id, 'attempt', job.attempt, 'assigned_at', NOW)
  redis.call('HDEL', jk, 'started_at', 'explanation')
  redis.call('ZREM', key('backlog'), job.id)
  redis.call('ZADD', key('deadlines'), num(NOW_N + DISPATCH_TIMEOUT), job.id)
end

-- Free the job's slot on its node, if it still holds one.
local function release(job)
  redis.call('ZREM', key('deadlines'), job.id)
  if not job.node_id then
    return
  end
  if redis.call('SREM', key('node', job.node_id, 'jobs'), job.id) == 1 then
    local field = job.state == 'running' and 'running' or 'reserved'
    redis.call('HINCRBY', key('node', job.node_id), field, -1)
  end
end

-- End the job in a final state; it is kept for the retention, then expires.
local function finish(job, state, err)
  local jk = key('job', job.id)
  release(job)
  redis.call('ZREM', key('backlog'), job.id)
  set_state(job, state)
  redis.call('HSET', jk, 'finished_at', NOW)
  if err then
    redis.call('HSET', jk, 'error', err)
  else
    redis.call('HDEL', jk, 'error')
  end
  redis.call('PEXPIRE', jk, RETENTION_MS)
  redis.call('PEXPIRE', key('req', job.request_id), RETENTION_MS)
  redis.call('HINCRBY', key('stats'), 'ended:' .. state, 1)
end

local function contains_word(words, word)
  return string.find(' ' .. words .. ' ', ' ' .. word .. ' ', 1, true) ~= nil
end

-- Append the attempt that ends now to the job's history (a JSON list).
local function remember_attempt(job, reason)
  local jk = key('job', job.id)
  local v = redis.call('HMGET', jk, 'assigned_at', 'started_at', 'history')
  local history = v[3] and cjson.decode(v[3]) or {}
  history[#history + 1] = {
    attempt = tonumber(job.attempt), node_id = job.node_id,
    assigned_at = tonumber(v[1]), started_at = tonumber(v[2]), ended_at = NOW_N,
    reason = string.sub(reason, 1, HISTORY_REASON),
  }
  redis.call('HSET', jk, 'history', cjson.encode(history))
end

-- Take an active job back from its node: pending again with the node excluded, or
-- failed when that was its last attempt.
local function requeue(job, reason)
  if (tonumber(job.attempt) or 0) >= (tonumber(job.max_attempts) or 1) then
    local note = ' (attempt ' .. job.attempt .. ' of ' .. job.max_attempts .. ')'
    finish(job, 'failed', reason .. note)
    return
  end
  local jk = key('job', job.id)
  remember_attempt(job, reason)
  release(job)
  local tried = job.tried_nodes or ''
  if job.node_id and not contains_word(tried, job.node_id) then
    tried = (tried == '') and job.node_id or (tried .. ' ' .. job.node_id)
    redis.call('HSET', jk, 'tried_nodes', tried)
  end
  set_state(job, 'pending')
  redis.call('HSET', jk, 'error', reason)
  redis.call('HDEL', jk, 'node_id', 'assigned_at', 'started_at')
  redis.call('ZADD', key('backlog'), num(-(tonumber(job.priority) or 0)), job.id)
  redis.call('HINCRBY', key('stats'), 'requeued', 1)
  job.node_id = nil
end
