--[[
  Creates a container record unless one exists; returns the stored record
  either way, so racing creators of one id all see the same created_at.

  KEYS[1]  meta hash of the container
  KEYS[2]  participants hash (threads; includes/participants)
  KEYS[3]  participants join order zset
  ARGV[1]  id
  ARGV[2]  group_id ("" for chats)
  ARGV[3]  topic ("" for chats)
  ARGV[4]  user ids as a JSON array (chats; "" otherwise)
  ARGV[5]  metadata as a JSON object ("" for none), set only when the record is made
  ARGV[6]  created_by ("" for none)
  ARGV[7]  parent thread id ("" for none; then ARGV[8] is "" too)
  ARGV[8]  parent message id
  ARGV[9]  MAX_PARTICIPANTS
  ARGV[10…] the first participants, as pairs: id, record without "j"

  Returns  { 'OK', record, participants } (record: includes/readMeta;
           participants: includes/participants participantsAll).
]]
--- @include "includes/nextSentAt"
--- @include "includes/readMeta"
--- @include "includes/participants"

if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = nextSentAt(nil)
  redis.call('HSET', KEYS[1],
    'id', ARGV[1], 'g', ARGV[2], 't', ARGV[3], 'c', now, 'u', ARGV[4],
    's', 0, 'n', 0, 'l', '', 'ua', now)
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'md', ARGV[5]) end
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'cb', ARGV[6]) end
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'pt', ARGV[7], 'pm', ARGV[8]) end
  -- The caller checked the count against MAX_PARTICIPANTS (ARGV[9]) and MAX_IDS_PER_CALL.
  participantsAdd(KEYS[1], KEYS[2], KEYS[3], ARGV, 10, now, ARGV[9])
end
return { 'OK', readMeta(KEYS[1]), participantsAll(KEYS[2], KEYS[3]) }
