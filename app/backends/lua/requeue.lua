-- Take an active job back from its node. ARGV[4] job_id, ARGV[5] attempt, ARGV[6] reason.

local job = load_job(ARGV[4])
if not job then
  return {'missing', 'no such job', {}}
end
if not active(job) or tonumber(job.attempt) ~= tonumber(ARGV[5]) then
  return reply('stale', job.id, 'attempt ' .. ARGV[5] .. ' is not active')
end
requeue(job, ARGV[6])
return reply('applied', job.id)
