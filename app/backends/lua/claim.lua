-- Create a job once per request_id, reserving a slot on the first free candidate.
-- ARGV[4] job_id, ARGV[5] request_id, ARGV[6] fingerprint, ARGV[7] priority,
-- ARGV[8] the job hash as a JSON object of strings (without state, attempt and
-- placement), ARGV[9] the counter count m, then m counter name/amount pairs, then the
-- candidate node ids.
-- Returns {'existing' | 'conflict', '', job hash} when the request_id is bound, else
-- {'created', state, node_id or '', attempt}: the caller has the rest of the new job.

local job_id, request_id, fingerprint = ARGV[4], ARGV[5], ARGV[6]
local binding_key = key('req', request_id)
local bound = redis.call('GET', binding_key)

if bound then
  local stored = redis.call('HGETALL', key('job', bound))
  -- A binding whose job hash already expired is as good as no binding.
  if #stored > 0 then
    local same = false
    for i = 1, #stored, 2 do
      if stored[i] == 'fingerprint' then
        same = stored[i + 1] == fingerprint
        break
      end
    end
    redis.call('HINCRBY', key('stats'), same and 'repeats' or 'conflicts', 1)
    return {same and 'existing' or 'conflict', '', stored}
  end
end

local counters_at = 9
local n_counters = tonumber(ARGV[counters_at])
local node_id = first_free(counters_at + 2 * n_counters + 1)

local fields = {}
for name, value in pairs(cjson.decode(ARGV[8])) do
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end
local state, attempt = 'pending', '0'
if node_id then
  state, attempt = 'assigned', '1'
  fields[#fields + 1] = 'node_id'
  fields[#fields + 1] = node_id
  fields[#fields + 1] = 'assigned_at'
  fields[#fields + 1] = NOW
end
fields[#fields + 1] = 'state'
fields[#fields + 1] = state
fields[#fields + 1] = 'attempt'
fields[#fields + 1] = attempt

redis.call('HSET', key('job', job_id), unpack(fields))
redis.call('SET', binding_key, job_id)
redis.call('ZADD', key('jobs'), 0, job_id)
redis.call('ZADD', key('state', state), 0, job_id)
if node_id then
  redis.call('HINCRBY', key('node', node_id), 'reserved', 1)
  redis.call('SADD', key('node', node_id, 'jobs'), job_id)
  redis.call('ZADD', key('deadlines'), num(NOW_N + DISPATCH_TIMEOUT), job_id)
else
  redis.call('ZADD', key('backlog'), num(-(tonumber(ARGV[7]) or 0)), job_id)
end

local stats = key('stats')
redis.call('HINCRBY', stats, 'created', 1)
for i = counters_at + 1, counters_at + 2 * n_counters, 2 do
  redis.call('HINCRBYFLOAT', stats, ARGV[i], ARGV[i + 1])
end
return {'created', state, node_id or '', attempt}
