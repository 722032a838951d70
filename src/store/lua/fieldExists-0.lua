--[[
  HEXISTS of one field in several hashes in one step (on one Redis; a cluster
  asks each hash's node). ListThreads by participant_id checks each candidate
  thread's participants hash with it (README, "A richer thread").

  KEYS     the hashes
  ARGV[1]  the field

  Returns  1 or 0 per hash, in KEYS order.
]]
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HEXISTS', KEYS[i], ARGV[1])
end
return out
