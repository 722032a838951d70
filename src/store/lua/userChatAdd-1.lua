--[[
  Adds a chat to one of its users' chat index, and when it was not there yet,
  wakes every instance following that user (Chats.Subscribe by user_id):
  sharded pub/sub on the index key's own name, the same slot on a cluster.
  Idempotent: CreateChat runs it for every user on every call, so a call
  interrupted between the chat and an index repairs on its retry.

  KEYS[1]  the user's chat index (zset: chat id -> creation, Unix ms)
  ARGV[1]  chat id
  ARGV[2]  the chat's creation, Unix ms

  Returns  1 when added, 0 when already there.
]]
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
if added == 1 then
  redis.call('SPUBLISH', KEYS[1], ARGV[1])
end
return added
