-- Add to named counters: ARGV[4..] as name/amount pairs.

for i = 4, #ARGV, 2 do
  redis.call('HINCRBYFLOAT', key('stats'), ARGV[i], ARGV[i + 1])
end
return 0
