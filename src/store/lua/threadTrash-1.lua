--[[
  Puts a thread in the trash or takes it out (README, "A richer thread"):
  sets or clears `da` (deleted_at) and moves updated_at. Repeating either
  changes nothing. The caller then moves the thread between its group's live
  and trash orders (groupMove-4, another slot on a cluster).

  KEYS[1]  meta hash
  ARGV[1]  'trash' or 'restore'

  Returns  { 'NO_CONTAINER' } or { 'OK', record, changed (1|0) }.
]]
--- @include "includes/nextSentAt"
--- @include "includes/readMeta"

local rec = redis.call('HMGET', KEYS[1], 'id', 'da')
if not rec[1] then return { 'NO_CONTAINER' } end
local trashed = rec[2] ~= false
local changed = 0
if ARGV[1] == 'trash' and not trashed then
  local now = nowNanos()
  redis.call('HSET', KEYS[1], 'da', now, 'ua', now)
  changed = 1
elseif ARGV[1] == 'restore' and trashed then
  redis.call('HDEL', KEYS[1], 'da')
  redis.call('HSET', KEYS[1], 'ua', nowNanos())
  changed = 1
end
return { 'OK', readMeta(KEYS[1]), changed }
