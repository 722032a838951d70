--[[
  Appends a message to a container: next seq, next sent_at, the id in the
  order zset, the record in the records hash, the container's counters, and
  the `created` event in its feed, all in one step. A client id that is
  already stored returns the stored message and changes nothing (and uses up
  no seq and no feed position), so concurrent retries of one id store one
  message.

  KEYS[1]  meta hash
  KEYS[2]  visible order zset (message id -> seq)
  KEYS[3]  deleted order zset (message id -> seq; a repeated client id of a deleted message
           returns its tombstone)
  KEYS[4]  records hash (message id -> JSON record, src/store/record.ts)
  KEYS[5]  feed stream (includes/feed)
  KEYS[6]  read pointers hash (user id -> seq): the author has read what they wrote
  KEYS[7]  the group's activity order (zset: container id -> last activity, Unix µs) when the
           store runs on one Redis and knows the group; else KEYS[1] again, unused (on a
           cluster the order lives in another slot and is a follow-up)
  KEYS[8]  participants hash (threads; includes/participants): a read_only author may not post
  KEYS[9]  the group's update order (threads: id -> updated_at, Unix µs) when KEYS[7] is the
           activity order; else KEYS[1] again, unused
  ARGV[1]  message id
  ARGV[2]  the record without "s": a JSON object, {"a":…,"t":…[,"m":{…}]}
  ARGV[3]  "1" when the id is the client's (check for a repeat), else "0"
  ARGV[4]  FEED_RETENTION_EVENTS
  ARGV[5]  the author id
  ARGV[6]  "1": the author must be one of the chat's users (CHATS_ENFORCE_MEMBERSHIP)
  ARGV[7]  the group id KEYS[7] belongs to, or "": the order is written only when this is the
           container's group (a stale guess leaves it to the follow-up)
  ARGV[8]  the container id (the order's member)

  Returns  { 'NO_CONTAINER' }, { 'NOT_A_MEMBER' }, { 'THREAD_DELETED' }, { 'READ_ONLY' }, or { 'OK', created (1|0), seq,
           record, users, group, new pointer (1|0), activity written (1|0) } with users
           the chat's user ids as JSON ("" for threads and conversations) and group its
           group id ("" for chats), for the follow-ups in other slots (each user's inbox,
           the group's activity order unless written here, the author's index of
           containers with a read pointer).
]]
--- @include "includes/nextSentAt"
--- @include "includes/feed"

local rec = redis.call('HMGET', KEYS[1], 's', 'n', 'l', 'e', 'u', 'g', 'da', 'pc')
if not rec[1] then
  return { 'NO_CONTAINER' }
end
if rec[7] then return { 'THREAD_DELETED' } end
-- `pc` (the last join position) is set once a thread has had participants: only then look.
local participant = rec[8] and rec[8] ~= '0' and redis.call('HGET', KEYS[8], ARGV[5])
-- The caller encodes the role as exactly "r":"read_only"; inside a JSON string a quote is escaped.
if participant and string.find(participant, '"r":"read_only"', 1, true) then return { 'READ_ONLY' } end
local users = rec[5] or ''
if ARGV[6] == '1' and users ~= '' then
  local member = false
  for _, u in ipairs(cjson.decode(users)) do
    if u == ARGV[5] then member = true end
  end
  if not member then return { 'NOT_A_MEMBER' } end
end
if ARGV[3] == '1' then
  local seen = redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('ZSCORE', KEYS[3], ARGV[1])
  if seen then
    return { 'OK', 0, tonumber(seen), redis.call('HGET', KEYS[4], ARGV[1]), users, rec[6] or '', 0, 0 }
  end
end
local seq = tonumber(rec[1]) + 1
local sentAt = nextSentAt(rec[3])
-- sent_at goes first: '{"s":"<19 digits>",' then the rest of the caller's object.
local record = '{"s":"' .. sentAt .. '",' .. string.sub(ARGV[2], 2)
local pos = feedPosition(rec[4], rec[1]) + 1
redis.call('HSET', KEYS[1], 's', seq, 'n', (tonumber(rec[2]) or 0) + 1, 'l', sentAt, 'ua', sentAt, 'e', pos)
local newPointer = redis.call('HSET', KEYS[6], ARGV[5], seq)
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], record)
feedAppend(KEYS[5], pos, 'created', ARGV[1], seq, string.sub(sentAt, 1, 13), ARGV[4], record)
local activity = 0
if ARGV[7] ~= '' and ARGV[7] == rec[6] then
  -- Unix µs: the first 16 of sent_at's 19 digits.
  redis.call('ZADD', KEYS[7], 'GT', string.sub(sentAt, 1, 16), ARGV[8])
  if KEYS[9] ~= KEYS[1] then redis.call('ZADD', KEYS[9], 'GT', string.sub(sentAt, 1, 16), ARGV[8]) end
  activity = 1
end
return { 'OK', 1, seq, record, users, rec[6] or '', newPointer, activity }
