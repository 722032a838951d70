--[[
  Reads one page of a container's messages in one consistent step.

  KEYS[1]  meta hash
  KEYS[2]  order zset (message id -> seq)
  KEYS[3]  records hash (src/store/record.ts; each begins {"s":"<19-digit sent_at>")
  ARGV[1]  offset (ranks skipped from the start of the chosen order)
  ARGV[2]  limit
  ARGV[3]  "asc" or "desc"
  ARGV[4]  sent_before as a 19-digit nanosecond string, or "" for none.
           Only messages strictly older count; since sent_at increases with
           seq, a binary search over ranks finds the cut (O(log² n)).
  ARGV[5]  the reply budget: bytes of ids and records (0: none)
  ARGV[6]  '' (no cursor: offset and sent_before apply), 'after' or 'before'
  ARGV[7]  the cursor's seq (a position: its message may be gone)

  Returns  { 'NO_CONTAINER' }, { 'TOO_LARGE' } past the budget, or
           { 'OK', page, hasMore, followsLast, lastSeq } with page a flat list
           { id1, seq1, record1, id2, seq2, record2, … } in the chosen order,
           hasMore (1|0: more lie beyond the page in the direction asked),
           followsLast (1|0: a message follows the page's last in the chosen
           order), feed (the container's feed position, includes/feed, read in
           the same step as the page) and the bytes counted against the budget.
]]
--- @include "includes/keyset"
--- @include "includes/feed"

local head = redis.call('HMGET', KEYS[1], 's', 'e')
if not head[1] then
  return { 'NO_CONTAINER' }
end
local offset = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ids, seqs, hasMore, followsLast = {}, {}, false, false
if ARGV[6] ~= '' then
  ids, seqs, hasMore, followsLast = keysetPage(KEYS[2], ARGV[3], limit, ARGV[6], ARGV[7])
else
  local n = redis.call('ZCARD', KEYS[2])

  if ARGV[4] ~= '' then
    local lo, hi = 0, n
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      local id = redis.call('ZRANGE', KEYS[2], mid, mid)[1]
      local sentAt = string.sub(redis.call('HGET', KEYS[3], id), 7, 25)
      if sentAt < ARGV[4] then lo = mid + 1 else hi = mid end
    end
    n = lo -- ranks [0, n) are strictly older
  end

  local first, last
  if ARGV[3] == 'asc' then
    first, last = offset, math.min(offset + limit, n) - 1
  else
    first, last = n - offset - limit, n - offset - 1
    if first < 0 then first = 0 end
  end
  if last >= first then
    local page = redis.call('ZRANGE', KEYS[2], first, last, 'WITHSCORES')
    local from, to, step = 1, #page / 2, 1
    if ARGV[3] ~= 'asc' then from, to, step = #page / 2, 1, -1 end
    for i = from, to, step do
      ids[#ids + 1] = page[2 * i - 1]
      seqs[#seqs + 1] = page[2 * i]
    end
    if ARGV[3] == 'asc' then hasMore = last < n - 1 else hasMore = first > 0 end
    followsLast = hasMore
  end
end

-- Records are read in the reply's order, CHUNK at a time, counting their bytes:
-- past the budget the read stops, before a reply that would be refused is built.
local budget = tonumber(ARGV[5])
local CHUNK = 64
local out = {}
local bytes = 0
for c = 1, #ids, CHUNK do
  local chunk = {}
  for j = c, math.min(c + CHUNK - 1, #ids) do chunk[#chunk + 1] = ids[j] end
  local records = redis.call('HMGET', KEYS[3], unpack(chunk))
  for j = 1, #chunk do
    bytes = bytes + #chunk[j] + #records[j]
    if budget > 0 and bytes > budget then
      return { 'TOO_LARGE' }
    end
    out[#out + 1] = chunk[j]
    out[#out + 1] = seqs[c + j - 1]
    out[#out + 1] = records[j]
  end
end
return { 'OK', out, hasMore and 1 or 0, followsLast and 1 or 0, feedPosition(head[2], head[1]), bytes }
