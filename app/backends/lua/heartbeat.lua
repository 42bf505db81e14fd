-- Record a node's heartbeat; running and reserved counts stay the store's own.
-- ARGV[4] node_id, ARGV[5] capabilities, ARGV[6] kinds, ARGV[7] labels (JSON),
-- ARGV[8] slots, ARGV[9] cpu_percent, ARGV[10] memory_percent, ARGV[11] hostname,
-- ARGV[12] draining ('1' or '0'), ARGV[13] how many jobs the node says it runs.

local node_id = ARGV[4]
local node_key = key('node', node_id)
-- An operator's drain holds until the operator resumes the node, also across a restart.
local held = redis.call('HGET', node_key, 'operator_draining') == '1'
local draining = ARGV[12] == '1' or held

redis.call('HSET', node_key,
  'node_id', node_id, 'capabilities', ARGV[5], 'kinds', ARGV[6], 'labels', ARGV[7],
  'slots', ARGV[8], 'cpu_percent', ARGV[9], 'memory_percent', ARGV[10],
  'hostname', ARGV[11], 'last_seen', NOW, 'reported_running', ARGV[13],
  'operator_draining', held and '1' or '0', 'draining', draining and '1' or '0',
  'status', draining and 'draining' or 'alive')
redis.call('HSETNX', node_key, 'running', 0)
redis.call('HSETNX', node_key, 'reserved', 0)
redis.call('SADD', key('nodes'), node_id)
return redis.call('HGETALL', node_key)
