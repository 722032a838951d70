--[[
  Adds, replaces or removes participants of a thread in one step (README,
  "A richer thread"), moving its updated_at.

  KEYS[1]  meta hash
  KEYS[2]  participants hash (includes/participants)
  KEYS[3]  participants join order zset
  ARGV[1]  'add' or 'remove'
  ARGV[2]  MAX_PARTICIPANTS
  ARGV[3…] add: pairs of id, record without "j"; remove: ids (absent ones skipped)

  Returns  { 'NO_CONTAINER' }, { 'THREAD_DELETED' }, { 'TOO_MANY_PARTICIPANTS', max },
           or { 'OK', record, changed ids (new ones, or removed ones), participants }.
]]
--- @include "includes/nextSentAt"
--- @include "includes/readMeta"
--- @include "includes/participants"

local rec = redis.call('HMGET', KEYS[1], 'id', 'da')
if not rec[1] then return { 'NO_CONTAINER' } end
if rec[2] then return { 'THREAD_DELETED' } end
local now = nowNanos()
local changed
if ARGV[1] == 'add' then
  changed = participantsAdd(KEYS[1], KEYS[2], KEYS[3], ARGV, 3, now, ARGV[2])
  if not changed then return { 'TOO_MANY_PARTICIPANTS', ARGV[2] } end
else
  changed = {}
  for i = 3, #ARGV do
    if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
      redis.call('ZREM', KEYS[3], ARGV[i])
      changed[#changed + 1] = ARGV[i]
    end
  end
end
redis.call('HSET', KEYS[1], 'ua', now)
return { 'OK', readMeta(KEYS[1]), changed, participantsAll(KEYS[2], KEYS[3]) }
