--[[
  Adds a container to its group's index, ordered by a per-group counter so
  that the order is exact even for containers created in the same instant.

  KEYS[1]  group index zset (container id -> order)
  KEYS[2]  group counter
  ARGV[1]  container id

  Returns  1 when added, 0 when it was there already.
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1])
return 1
