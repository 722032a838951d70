--[[
  Reads one page of a container's messages in one consistent step.

  KEYS[1]  meta hash
  KEYS[2]  visible order zset (message id -> seq: messages not deleted)
  KEYS[3]  deleted order zset (message id -> seq: deleted and purged ones)
  KEYS[4]  records hash (src/store/record.ts; each begins {"s":"<19-digit sent_at>")
  ARGV[1]  offset (ranks skipped from the start of the chosen order)
  ARGV[2]  limit
  ARGV[3]  "asc" or "desc"
  ARGV[4]  sent_before as a 19-digit nanosecond string, or "" for none.
           Only messages strictly older count; since sent_at increases with
           seq, a binary search over ranks finds the cut (O(log² n)).
  ARGV[5]  the reply budget: bytes of ids and records (0: none)
  ARGV[6]  '' (no cursor: offset and sent_before apply), 'after' or 'before'
  ARGV[7]  the cursor's seq (a position: its message may be gone)
  ARGV[8]  which messages: 'visible' (KEYS[2]), 'deleted' (KEYS[3]) or 'all'. Every seq
           1 … last seq belongs to exactly one message, in one of the two sets, so
           'all' is seq arithmetic: offsets, cursors and sent_before cost the same
           as on one set, and no set of all messages is kept.
  ARGV[9]  'lengths': the page without its records (a large page's first step,
           src/store/redis-store.ts `largePage`): { id, seq, … } counted with
           HSTRLEN, and a stamp of the container ("<s>:<e>:<c>") that any change
           to its messages or the container changes; anything else: with records.

  Returns  { 'NO_CONTAINER' }, { 'TOO_LARGE' } past the budget, or
           { 'OK', page, hasMore, followsLast, feed, bytes[, stamp] } with page a flat list
           { id1, seq1, record1, id2, seq2, record2, … } in the chosen order,
           hasMore (1|0: more lie beyond the page in the direction asked),
           followsLast (1|0: a message follows the page's last in the chosen
           order), feed (the container's feed position, includes/feed, read in
           the same step as the page) and the bytes counted against the budget.
]]
--- @include "includes/keyset"
--- @include "includes/feed"

local head = redis.call('HMGET', KEYS[1], 's', 'e', 'c')
if not head[1] then
  return { 'NO_CONTAINER' }
end
local offset = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local asc = ARGV[3] == 'asc'
local ids, seqs, hasMore, followsLast = {}, {}, false, false

-- sentAtOf(id): the 19-digit sent_at at the start of a record.
local function sentAtOf(id)
  return string.sub(redis.call('HGET', KEYS[4], id), 7, 25)
end

if ARGV[8] ~= 'all' then
  local set = KEYS[2]
  if ARGV[8] == 'deleted' then set = KEYS[3] end
  if ARGV[6] ~= '' then
    ids, seqs, hasMore, followsLast = keysetPage(set, ARGV[3], limit, ARGV[6], ARGV[7])
  else
    local n = redis.call('ZCARD', set)
    if ARGV[4] ~= '' then
      local lo, hi = 0, n
      while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if sentAtOf(redis.call('ZRANGE', set, mid, mid)[1]) < ARGV[4] then lo = mid + 1 else hi = mid end
      end
      n = lo -- ranks [0, n) are strictly older
    end
    local first, last
    if asc then
      first, last = offset, math.min(offset + limit, n) - 1
    else
      first, last = n - offset - limit, n - offset - 1
      if first < 0 then first = 0 end
    end
    if last >= first then
      local page = redis.call('ZRANGE', set, first, last, 'WITHSCORES')
      local from, to, step = 1, #page / 2, 1
      if not asc then from, to, step = #page / 2, 1, -1 end
      for i = from, to, step do
        ids[#ids + 1] = page[2 * i - 1]
        seqs[#seqs + 1] = page[2 * i]
      end
      if asc then hasMore = last < n - 1 else hasMore = first > 0 end
      followsLast = hasMore
    end
  end
else
  local S = tonumber(head[1])
  local function idAtSeq(q)
    local r = redis.call('ZRANGEBYSCORE', KEYS[2], q, q, 'LIMIT', 0, 1)
    if #r == 0 then r = redis.call('ZRANGEBYSCORE', KEYS[3], q, q, 'LIMIT', 0, 1) end
    return r[1]
  end
  local first, last
  if ARGV[6] ~= '' then
    local at = tonumber(ARGV[7])
    -- Toward higher seqs: 'after' in ascending order, 'before' in descending order.
    local up = (ARGV[6] == 'after') == asc
    if up then
      first, last = math.max(at + 1, 1), math.min(at + limit, S)
      hasMore = last < S
    else
      last = math.min(at - 1, S)
      first = math.max(1, last - limit + 1)
      hasMore = first > 1
    end
    if asc then followsLast = last < S else followsLast = first > 1 end
  else
    local n = S
    if ARGV[4] ~= '' then
      local lo, hi = 1, S + 1
      while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if sentAtOf(idAtSeq(mid)) < ARGV[4] then lo = mid + 1 else hi = mid end
      end
      n = lo - 1 -- seqs [1, n] are strictly older
    end
    if asc then
      first, last = offset + 1, math.min(offset + limit, n)
      hasMore = last < n
    else
      last = n - offset
      first = math.max(1, last - limit + 1)
      hasMore = first > 1
    end
    followsLast = hasMore
  end
  if last >= first then
    local bySeq = {}
    for _, key in ipairs({ KEYS[2], KEYS[3] }) do
      local part = redis.call('ZRANGEBYSCORE', key, first, last, 'WITHSCORES')
      for i = 1, #part, 2 do bySeq[tonumber(part[i + 1])] = part[i] end
    end
    local from, to, step = first, last, 1
    if not asc then from, to, step = last, first, -1 end
    for q = from, to, step do
      if bySeq[q] then
        ids[#ids + 1] = bySeq[q]
        seqs[#seqs + 1] = q
      end
    end
  else
    hasMore, followsLast = false, false
  end
end

local budget = tonumber(ARGV[5])

-- The page's ids and seqs, its records counted, not read: a script that returns megabytes
-- holds Redis for milliseconds converting them, where HMGET outside a script sends them at
-- once (README, "Fairness").
if ARGV[9] == 'lengths' then
  local out = {}
  local bytes = 0
  for j = 1, #ids do
    bytes = bytes + #ids[j] + redis.call('HSTRLEN', KEYS[4], ids[j])
    if budget > 0 and bytes > budget then
      return { 'TOO_LARGE' }
    end
    out[#out + 1] = ids[j]
    out[#out + 1] = seqs[j]
  end
  local stamp = head[1] .. ':' .. (head[2] or '') .. ':' .. (head[3] or '')
  return { 'OK', out, hasMore and 1 or 0, followsLast and 1 or 0, feedPosition(head[2], head[1]), bytes, stamp }
end

-- Records are read in the reply's order, CHUNK at a time, counting their bytes:
-- past the budget the read stops, before a reply that would be refused is built.
local CHUNK = 64
local out = {}
local bytes = 0
for c = 1, #ids, CHUNK do
  local chunk = {}
  for j = c, math.min(c + CHUNK - 1, #ids) do chunk[#chunk + 1] = ids[j] end
  local records = redis.call('HMGET', KEYS[4], unpack(chunk))
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
