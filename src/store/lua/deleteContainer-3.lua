--[[
  Removes a container and all its messages. UNLINK frees large values on
  Redis's background thread, so this takes the same time for 10 messages as
  for 1,000,000. The caller then removes the id from its group index (another
  slot on a cluster); a list that meets an index entry without a record skips
  and removes it.

  KEYS[1]  meta hash
  KEYS[2]  message order zset
  KEYS[3]  message bodies hash

  Returns  the group id ("" for none), or nil when the container was absent.
]]
local group = redis.call('HGET', KEYS[1], 'g')
if not group then
  return false
end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
return group
