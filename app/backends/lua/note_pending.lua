-- Record the selector's explanation on a pending job. ARGV[4] job_id, ARGV[5] text.

if redis.call('HGET', key('job', ARGV[4]), 'state') == 'pending' then
  redis.call('HSET', key('job', ARGV[4]), 'explanation', ARGV[5])
  return 1
end
return 0
