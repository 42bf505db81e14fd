-- End a pending job as failed. ARGV[4] job_id, ARGV[5] reason.

local job = load_job(ARGV[4])
if not job then
  return {'missing', 'no such job', {}}
end
if job.state ~= 'pending' then
  return reply('stale', job.id, 'job is ' .. job.state .. ', not pending')
end
finish(job, 'failed', ARGV[5])
return reply('applied', job.id)
