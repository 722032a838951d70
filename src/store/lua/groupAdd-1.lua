--[[
  Adds a container to its group's index, after every container already in
  it: its score is the highest score + 1, so the order is exact even for
  containers created in the same instant, and the group needs no counter key
  of its own (the index goes away with the group's last container).

  KEYS[1]  group index zset (container id -> creation order)
  ARGV[1]  container id

  Returns  { 'OK', 1 } when added, { 'OK', 0 } when it was there already.
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return { 'OK', 0 }
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local score = 1
if last[2] then score = tonumber(last[2]) + 1 end
redis.call('ZADD', KEYS[1], score, ARGV[1])
return { 'OK', 1 }
