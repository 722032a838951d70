--[[
  The container's live feed (src/feed/README.md): a Redis Stream beside the
  container's other keys, one entry per accepted change, with the entry id
  `<position>-0` (position 1, 2, 3… per container, kept in the meta field `e`).
  Each entry names the change and its message, not the message's bytes: the
  text lives once, in the records hash, and a purge has one place to erase.

  feedPosition(rec): the container's last feed position from its `e` field
  (containers written before the feed existed: their last seq, since every
  change then was a message created).

  feedAppend(feed, pos, type, id, seq, ms, retention, record): records the
  change at `pos` (the caller stores `pos` in the meta field `e`, in the HSET
  it makes anyway), trims the stream to about `retention` entries (never
  fewer: MAXLEN ~ trims whole nodes only), and wakes every instance
  following the container (sharded pub/sub on the feed key's own name: the
  same slot on a cluster). The wake-up carries the event and the message's
  record ("pos\ntype\nid\nseq\nms\nrecord": a record is JSON, one line), so
  an instance that is up to date hands it on without reading the stream;
  one that missed something reads the stream (store/redis-wake.ts).
]]
local function feedPosition(e, s)
  return tonumber(e or s or 0)
end

local function feedAppend(feed, pos, type, id, seq, ms, retention, record)
  redis.call('XADD', feed, 'MAXLEN', '~', retention, string.format('%d-0', pos), 't', type, 'm', id, 'q', seq, 'w', ms)
  redis.call('SPUBLISH', feed, string.format('%d', pos) .. '\n' .. type .. '\n' .. id .. '\n' .. seq .. '\n' .. ms .. '\n' .. record)
end
