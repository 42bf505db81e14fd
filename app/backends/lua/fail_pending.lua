-- End a pending job as failed. ARGV[4] job_id, ARGV[5] reason.

local job, why = pending_job(ARGV[4])
if not job then
  return why
end
finish(job, 'failed', ARGV[5])
return reply('applied', job.id)
