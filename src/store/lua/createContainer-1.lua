--[[
  Creates a container record unless one exists; returns the stored record
  either way, so racing creators of one id all see the same created_at.

  KEYS[1]  meta hash of the container
  ARGV[1]  id
  ARGV[2]  group_id ("" for chats)
  ARGV[3]  topic ("" for chats)
  ARGV[4]  user ids as a JSON array (chats; "" otherwise)
  ARGV[5]  metadata as a JSON object ("" for none), set only when the record is made

  Returns  { 'OK', record } (record: includes/readMeta).
]]
--- @include "includes/nextSentAt"
--- @include "includes/readMeta"

if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = nextSentAt(nil)
  redis.call('HSET', KEYS[1],
    'id', ARGV[1], 'g', ARGV[2], 't', ARGV[3], 'c', now, 'u', ARGV[4],
    's', 0, 'n', 0, 'l', '', 'ua', now)
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'md', ARGV[5]) end
end
return { 'OK', readMeta(KEYS[1]) }
