--[[
  Creates a container record unless one exists; returns the stored record
  either way, so racing creators of one id all see the same created_at.

  KEYS[1]  meta hash of the container
  ARGV[1]  id
  ARGV[2]  group_id ("" for chats)
  ARGV[3]  topic ("" for chats)
  ARGV[4]  user ids as a JSON array (chats; "" otherwise)

  Returns  { 'OK', record } (record: includes/readMeta).
]]
--- @include "includes/nextSentAt"
--- @include "includes/readMeta"

if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1],
    'id', ARGV[1], 'g', ARGV[2], 't', ARGV[3], 'c', nextSentAt(nil), 'u', ARGV[4],
    's', 0, 'n', 0, 'l', '')
end
return { 'OK', readMeta(KEYS[1]) }
