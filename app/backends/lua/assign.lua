-- Hand a pending job to the first candidate with a free slot.
-- ARGV[4] job_id, ARGV[5..] candidate node ids.

local job, why = pending_job(ARGV[4])
if not job then
  return why
end
local node_id = first_free(5)
if not node_id then
  return reply('refused', job.id, 'no candidate has a free slot')
end
place(job, node_id)
return reply('applied', job.id)
