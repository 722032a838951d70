--[[
  Adds a thread to, or removes it from, filter indexes of its group (README,
  "A richer thread"): by creator, by parent message (or top-level), by
  participant. Each is a zset scored like the group's creation order, so a
  filtered list pages by the same cursors. Idempotent, in the group's slot.

  KEYS[1]  live creation order    KEYS[2]  trash creation order
  KEYS[3…] the indexes to write (for 'remove', any of the group's orders:
           KEYS[1] and KEYS[2] are only read, for 'add')
  ARGV[1]  thread id
  ARGV[2]  'add' (the thread's creation score, from KEYS[1] or KEYS[2]) or 'remove'

  Returns  the number of indexes written, 0 for 'add' when the thread is in
           neither creation order (gone, or not indexed yet: its creation's
           follow-up adds it).
]]
local n = 0
if ARGV[2] == 'add' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZSCORE', KEYS[2], ARGV[1])
  if not score then return 0 end
  for i = 3, #KEYS do
    n = n + redis.call('ZADD', KEYS[i], 'NX', score, ARGV[1])
  end
else
  for i = 3, #KEYS do
    n = n + redis.call('ZREM', KEYS[i], ARGV[1])
  end
end
return n
