--[[
  readMeta(key): the container record as the flat list the adapter decodes:
  { id, group_id, topic, created_at, user_ids_json, last_seq, message_count, last_message_at }
]]
local function readMeta(key)
  return redis.call('HMGET', key, 'id', 'g', 't', 'c', 'u', 's', 'n', 'l')
end
