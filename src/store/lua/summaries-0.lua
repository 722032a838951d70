--[[
  includes/summary for several containers in one step: on one Redis (not a
  cluster, where containers live in different slots) a page of ListChats or
  GetUnread is then one script instead of one per container. The key count
  is given by the caller (numberOfKeys 0 in the file name: variadic).

  KEYS     per container: meta hash, visible order zset, records hash, read pointers hash
  ARGV[1]  user id ('' for none: unread -1)
  ARGV[2]  '1' for the last message
  ARGV[3…] the record's fields to answer (src/store/record.ts SUMMARY_FIELDS)

  Returns  { 'OK', results } with one entry per container, each either
           { 'NO_CONTAINER' } or { 'OK', record, unread, last id, last seq, last record }.
]]
--- @include "includes/summary"

local fields = { unpack(ARGV, 3) }
local out = {}
for i = 1, #KEYS, 4 do
  out[#out + 1] = summary(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], ARGV[1], ARGV[2], fields)
end
return { 'OK', out }
