-- An operator stops (ARGV[5] = '1') or resumes ('0') new jobs for node ARGV[4].
-- Returns the node, or an empty list for an unknown node. A node that drains itself says
-- so again in its next heartbeat.

local node_key = key('node', ARGV[4])
local status = redis.call('HGET', node_key, 'status')
if not status then
  return {}
end
local draining = ARGV[5] == '1'
redis.call('HSET', node_key, 'operator_draining', ARGV[5], 'draining', ARGV[5])
if status ~= 'offline' then
  redis.call('HSET', node_key, 'status', draining and 'draining' or 'alive')
end
return redis.call('HGETALL', node_key)
