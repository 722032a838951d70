--[[
  Removes a container and all its messages. UNLINK frees large values on
  Redis's background thread, so this takes the same time for 10 messages as
  for 1,000,000. The caller then removes the id from its group index (another
  slot on a cluster); a list that meets an index entry without a record skips
  and removes it.

  KEYS[1]  meta hash
  KEYS[2]  message order zset
  KEYS[3]  message records hash

  Returns  { 'OK', group id ("" for none) }, or { 'OK' } when the container
           was absent (deleting an absent id succeeds).
]]
local group = redis.call('HGET', KEYS[1], 'g')
if not group then
  return { 'OK' }
end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
return { 'OK', group }
