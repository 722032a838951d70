--[[
  A container as a reader sees it, in one consistent step: its record, and
  for a user their unread count (README, "Inboxes and read state"), and when
  asked the newest message that is not deleted.

  KEYS[1]  meta hash
  KEYS[2]  visible order zset (message id -> seq)
  KEYS[3]  records hash
  KEYS[4]  read pointers hash (user id -> seq)
  ARGV[1]  user id ('' for none: unread -1)
  ARGV[2]  '1' for the last message

  unread = the visible messages with a seq above the user's pointer: ZCOUNT,
  O(log n), never a scan.

  Returns  { 'NO_CONTAINER' }, or { 'OK', record (HGETALL), unread,
           last message id, its seq, its record } ('' for no last message).
]]
--- @include "includes/readMeta"

local meta = readMeta(KEYS[1])
if #meta == 0 then
  return { 'NO_CONTAINER' }
end
local unread = -1
if ARGV[1] ~= '' then
  local at = redis.call('HGET', KEYS[4], ARGV[1]) or '0'
  unread = redis.call('ZCOUNT', KEYS[2], '(' .. at, '+inf')
end
local lastId, lastSeq, lastRecord = '', '', ''
if ARGV[2] == '1' then
  local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if #newest > 0 then
    lastId, lastSeq = newest[1], newest[2]
    lastRecord = redis.call('HGET', KEYS[3], lastId)
  end
end
return { 'OK', meta, unread, lastId, lastSeq, lastRecord }
