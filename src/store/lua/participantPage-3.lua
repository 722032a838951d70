--[[
  One page of a thread's participants in join order (README, "Paging with
  cursors"; includes/keyset).

  KEYS[1]  meta hash
  KEYS[2]  participants join order zset
  KEYS[3]  participants hash
  ARGV[1]  limit
  ARGV[2]  '' (no cursor), 'after' or 'before'
  ARGV[3]  the cursor's join position

  Returns  { 'NO_CONTAINER' } or { 'OK', ids, positions, hasMore (1|0), followsLast (1|0), records }.
]]
--- @include "includes/keyset"

if redis.call('EXISTS', KEYS[1]) == 0 then return { 'NO_CONTAINER' } end
local dir, at = ARGV[2], ARGV[3]
if dir == '' then dir, at = 'after', '0' end
local ids, positions, hasMore, followsLast = keysetPage(KEYS[2], 'asc', tonumber(ARGV[1]), dir, at)
local records = {}
if #ids > 0 then records = redis.call('HMGET', KEYS[3], unpack(ids)) end
for i = 1, #ids do records[i] = records[i] or '{}' end
return { 'OK', ids, positions, hasMore and 1 or 0, followsLast and 1 or 0, records }
