--[[
  A chat's activity in one user's inbox (README, "Inboxes and read state"):
  the follow-up of a SendMessage or CreateChat in the user's own slot. ZADD GT
  only ever moves a chat forward, and adds it when missing (a repair of an
  index entry lost to a crash), so a retry or the next message heals it and
  nothing is ever doubled. A chat new to the index is announced on the
  user's channel (Chats.Subscribe by user_id).

  KEYS[1]  the user's chat index (zset: chat id -> last activity, Unix µs)
  ARGV[1]  chat id
  ARGV[2]  its activity, Unix µs

  Returns  1 when the chat was new to the index, else 0.
]]
local had = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
if not had then
  redis.call('SPUBLISH', KEYS[1], ARGV[1])
  return 1
end
return 0
