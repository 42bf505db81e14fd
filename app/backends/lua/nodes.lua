-- Every known node as a list of HGETALL replies.

local replies = {}
for _, node_id in ipairs(redis.call('SMEMBERS', key('nodes'))) do
  local fields = redis.call('HGETALL', key('node', node_id))
  if #fields > 0 then
    replies[#replies + 1] = fields
  end
end
return replies
