--[[
  Removes a container, all its messages and its feed. UNLINK frees large
  values on Redis's background thread, so this takes the same time for 10
  messages as for 1,000,000. For a thread or conversation the caller then
  removes the id from its group index (another slot on a cluster; a list that
  meets an index entry without a record skips and removes it). For a chat the
  caller has removed its user set's mapping before (redis-store.ts says why).

  KEYS[1]  meta hash
  KEYS[2]  visible order zset
  KEYS[3]  deleted order zset
  KEYS[4]  message records hash
  KEYS[5]  feed stream
  KEYS[6]  read pointers hash

  Returns  { 'OK', group id ("" for none), user ids JSON ("" but for chats) },
           or { 'OK' } when the container was absent (deleting an absent id
           succeeds).
]]
local rec = redis.call('HMGET', KEYS[1], 'g', 'u')
if not rec[1] then
  return { 'OK' }
end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return { 'OK', rec[1], rec[2] or '' }
