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

  Returns  { 'NO_CONTAINER' }, { 'TOO_LARGE' } past the budget, or { 'OK', page } with page a flat list
           { id1, seq1, record1, id2, seq2, record2, … } in the chosen order.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 'NO_CONTAINER' }
end
local offset = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
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
if last < first then
  return { 'OK', {} }
end

local page = redis.call('ZRANGE', KEYS[2], first, last, 'WITHSCORES')
local n = #page / 2
-- Records are read in the reply's order, CHUNK at a time, counting their bytes:
-- past the budget the read stops, before a reply that would be refused is built.
local budget = tonumber(ARGV[5])
local CHUNK = 64
local out = {}
local bytes = 0
local i, step, stop = 1, 1, n
if ARGV[3] ~= 'asc' then i, step, stop = n, -1, 1 end
while (step == 1 and i <= stop) or (step == -1 and i >= stop) do
  local ids, seqs = {}, {}
  while #ids < CHUNK and ((step == 1 and i <= stop) or (step == -1 and i >= stop)) do
    ids[#ids + 1] = page[2 * i - 1]
    seqs[#seqs + 1] = page[2 * i]
    i = i + step
  end
  local records = redis.call('HMGET', KEYS[3], unpack(ids))
  for j = 1, #ids do
    bytes = bytes + #ids[j] + #records[j]
    if budget > 0 and bytes > budget then
      return { 'TOO_LARGE' }
    end
    out[#out + 1] = ids[j]
    out[#out + 1] = seqs[j]
    out[#out + 1] = records[j]
  end
end
return { 'OK', out }
