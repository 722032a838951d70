--[[
  Moves a thread between its group's live orders and trash orders, keeping
  its scores (its creation position and its activity). Idempotent: a thread
  already moved (or not indexed) is left as it is, so the retry of an
  interrupted SoftDeleteThread or RestoreThread repairs the indexes.

  KEYS[1]  live creation order      KEYS[2]  trash creation order
  KEYS[3]  live activity order      KEYS[4]  trash activity order
  ARGV[1]  thread id
  ARGV[2]  'trash' (live -> trash) or 'restore' (trash -> live)

  Returns  the number of entries moved.
]]
local moved = 0
local function move(from, to)
  local score = redis.call('ZSCORE', from, ARGV[1])
  if score then
    redis.call('ZADD', to, score, ARGV[1])
    redis.call('ZREM', from, ARGV[1])
    moved = moved + 1
  end
end
if ARGV[2] == 'trash' then
  move(KEYS[1], KEYS[2])
  move(KEYS[3], KEYS[4])
else
  move(KEYS[2], KEYS[1])
  move(KEYS[4], KEYS[3])
end
return moved
