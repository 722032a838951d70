--[[
  One page of a group's containers, by their order in the group.

  KEYS[1]  group index zset (container id -> creation order)
  ARGV[1]  "asc" or "desc"
  ARGV[2]  offset (with no cursor: ranks skipped from the start of the order)
  ARGV[3]  limit
  ARGV[4]  '' (no cursor), 'after' or 'before'
  ARGV[5]  the cursor's order score (a position: its container may be gone)

  Returns  { 'OK', ids, scores, hasMore (1|0), followsLast (1|0) }, the page
           in the chosen order (includes/keyset for the two flags).
]]
--- @include "includes/keyset"

local order, offset, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ids, scores, hasMore, followsLast
if ARGV[4] ~= '' then
  ids, scores, hasMore, followsLast = keysetPage(KEYS[1], order, limit, ARGV[4], ARGV[5])
else
  local raw
  if order == 'asc' then
    raw = redis.call('ZRANGE', KEYS[1], offset, offset + limit - 1, 'WITHSCORES')
  else
    raw = redis.call('ZREVRANGE', KEYS[1], offset, offset + limit - 1, 'WITHSCORES')
  end
  ids, scores = {}, {}
  for i = 1, #raw, 2 do
    ids[#ids + 1] = raw[i]
    scores[#scores + 1] = raw[i + 1]
  end
  hasMore = #ids > 0 and redis.call('ZCARD', KEYS[1]) > offset + #ids
  followsLast = hasMore
end
return { 'OK', ids, scores, hasMore and 1 or 0, followsLast and 1 or 0 }
