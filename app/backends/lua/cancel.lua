-- Cancel a job that is not final. ARGV[4] job_id.

local job = load_job(ARGV[4])
if not job then
  return {'missing', 'no such job', {}}
end
for _, state in ipairs(FINAL) do
  if job.state == state then
    return reply('refused', job.id, 'job is already ' .. state)
  end
end
finish(job, 'cancelled', 'cancelled')
return reply('applied', job.id)
