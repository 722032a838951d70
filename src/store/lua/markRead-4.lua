--[[
  Moves a user's read pointer in a container forward (README, "Inboxes and
  read state"): to a message's seq (a deleted message is a position like any
  other), or with no message id to the last seq. It never moves back.

  KEYS[1]  meta hash
  KEYS[2]  visible order zset
  KEYS[3]  deleted order zset
  KEYS[4]  read pointers hash (user id -> seq)
  ARGV[1]  user id
  ARGV[2]  message id ('' for the latest)

  Returns  { 'NO_CONTAINER' }, { 'NO_MESSAGE' }, or { 'OK', record (HGETALL), unread }.
]]
--- @include "includes/readMeta"

local last = redis.call('HGET', KEYS[1], 's')
if not last then
  return { 'NO_CONTAINER' }
end
local to = tonumber(last)
if ARGV[2] ~= '' then
  local seq = redis.call('ZSCORE', KEYS[2], ARGV[2]) or redis.call('ZSCORE', KEYS[3], ARGV[2])
  if not seq then return { 'NO_MESSAGE' } end
  to = tonumber(seq)
end
local at = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
if to > at then
  redis.call('HSET', KEYS[4], ARGV[1], to)
  at = to
end
return { 'OK', readMeta(KEYS[1]), redis.call('ZCOUNT', KEYS[2], '(' .. at, '+inf') }
