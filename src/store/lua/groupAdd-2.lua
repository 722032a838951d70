--[[
  Adds a container to its group's index, after every container already in
  it. Its score is Redis's clock in microseconds, or the highest score + 1
  when the clock has not moved past it: so the order is exact even for
  containers created in the same instant, a score is never given twice
  (also after the newest container, or the whole group, is deleted: a cursor
  names a position that no later container can take), and the group needs
  no counter key of its own (the index goes away with its last container).
  Microseconds since 1970 stay below 2^53, exact in a zset score.

  Threads in the trash keep their place in a second order (groupMove-4): a
  new score is also past every score there.

  KEYS[1]  group index zset (container id -> creation order)
  KEYS[2]  the group's trash order (threads; empty for conversations)
  ARGV[1]  container id

  Returns  { 'OK', 1 } when added, { 'OK', 0 } when it was there already (in
           either order).
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return { 'OK', 0 }
end
local t = redis.call('TIME')
local score = tonumber(t[1]) * 1000000 + tonumber(t[2])
for k = 1, 2 do
  local last = redis.call('ZRANGE', KEYS[k], -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) >= score then score = tonumber(last[2]) + 1 end
end
-- As a string of digits: Lua would pass a number to Redis as %.14g, cutting 16-digit scores.
redis.call('ZADD', KEYS[1], string.format('%.0f', score), ARGV[1])
return { 'OK', 1 }
