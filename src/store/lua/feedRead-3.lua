--[[
  Reads a container's feed after a position, in one consistent step, with
  each event's message as it is now (its record).

  KEYS[1]  meta hash
  KEYS[2]  feed stream (includes/feed)
  KEYS[3]  records hash (a message's seq never changes: the event carries it)
  ARGV[1]  the position to read after, as digits (0: from the start)
  ARGV[2]  at most this many events (0: only the container's position)
  ARGV[3]  FEED_RETENTION_EVENTS: a position further than this behind the
           newest cannot be replayed in full
  ARGV[4]  a byte budget: the read stops after the event that passes it

  Returns  { 'NO_CONTAINER' }, or { 'OK', last, resync (1|0), events } with
           last the container's feed position, resync 1 when the events after
           ARGV[1] are no longer all kept (behind by more than the retention,
           trimmed away, or a position ahead of the feed: a container that was
           deleted and made again), and events a flat list
           { position, type, message id, seq, accepted_ms, record, … }
           in feed order (record "" for a message no longer stored).
]]
--- @include "includes/feed"

local head = redis.call('HMGET', KEYS[1], 's', 'e')
if not head[1] then
  return { 'NO_CONTAINER' }
end
local last = feedPosition(head[2], head[1])
local after = tonumber(ARGV[1])
if after > last or last - after > tonumber(ARGV[3]) then
  return { 'OK', last, 1, {} }
end
local count = tonumber(ARGV[2])
if count == 0 or after == last then
  return { 'OK', last, 0, {} }
end
local entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+', 'COUNT', count)
-- The next position must be the first entry: anything else was trimmed away.
if #entries == 0 or entries[1][1] ~= string.format('%d-0', after + 1) then
  return { 'OK', last, 1, {} }
end
local budget = tonumber(ARGV[4])
local bytes = 0
local out = {}
for i = 1, #entries do
  local id, f = entries[i][1], entries[i][2]
  local ev = {}
  for j = 1, #f, 2 do ev[f[j]] = f[j + 1] end
  local record = redis.call('HGET', KEYS[3], ev.m) or ''
  local seq = ev.q
  out[#out + 1] = string.sub(id, 1, -3)
  out[#out + 1] = ev.t
  out[#out + 1] = ev.m
  out[#out + 1] = seq
  out[#out + 1] = ev.w
  out[#out + 1] = record
  bytes = bytes + #record + #ev.m
  if bytes > budget then break end
end
return { 'OK', last, 0, out }
