--[[
  Removes a container and all its messages. UNLINK frees large values on
  Redis's background thread, so this takes the same time for 10 messages as
  for 1,000,000. The caller then removes the id from its group index, or for
  a chat its user set's mapping (other slots on a cluster): a list that meets
  an index entry without a record skips and removes it; a mapping left to a
  deleted chat makes the next CreateChat of that set create it anew, empty.

  KEYS[1]  meta hash
  KEYS[2]  message order zset
  KEYS[3]  message records hash

  Returns  { 'OK', group id ("" for none), user ids JSON ("" but for chats) },
           or { 'OK' } when the container was absent (deleting an absent id
           succeeds).
]]
local rec = redis.call('HMGET', KEYS[1], 'g', 'u')
if not rec[1] then
  return { 'OK' }
end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
return { 'OK', rec[1], rec[2] or '' }
