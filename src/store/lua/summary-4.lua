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
  ARGV[3…] the record's fields to answer (src/store/record.ts SUMMARY_FIELDS)

  unread = the visible messages with a seq above the user's pointer: ZCOUNT,
  O(log n), never a scan.

  Returns  { 'NO_CONTAINER' }, or { 'OK', record (those fields' values), unread,
           last message id, its seq, its record } ('' for no last message).
]]
--- @include "includes/summary"

return summary(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], { unpack(ARGV, 3) })
