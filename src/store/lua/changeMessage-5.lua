--[[
  One change to one message of a container, with its event in the feed, in
  one step (README, "Edit, delete, restore, purge"). The record's fields are
  listed in src/store/record.ts; `s` (sent_at) stays first, since reads by
  sent_before take it from the record's first bytes.

  KEYS[1]  meta hash
  KEYS[2]  visible order zset (message id -> seq: the messages not deleted)
  KEYS[3]  deleted order zset (message id -> seq: deleted and purged ones)
  KEYS[4]  records hash
  KEYS[5]  feed stream (includes/feed)
  ARGV[1]  'update', 'delete', 'restore' or 'purge'
  ARGV[2]  message id
  ARGV[3]  update: the new text ('' keeps it)
  ARGV[4]  update: metadata changes as a JSON object ('' for none)
  ARGV[5]  FEED_RETENTION_EVENTS
  ARGV[6]  MAX_METADATA_KEYS
  ARGV[7]  MAX_METADATA_BYTES

  Deleting a deleted message, restoring a live one or purging a purged one
  changes nothing and adds no event.

  Returns  { 'NO_CONTAINER' }, { 'THREAD_DELETED' } (a thread in the trash), { 'NO_MESSAGE' }, { 'MESSAGE_DELETED' } (an
           update of a deleted or purged message), { 'MESSAGE_PURGED' } (a
           restore of a purged one), { 'BAD_METADATA', limit }, or
           { 'OK', seq, record[, group, updated_at] } (the last two when the change
           moved updated_at: the group's update order follows it).
]]
--- @include "includes/feed"
--- @include "includes/metadata"

local head = redis.call('HMGET', KEYS[1], 's', 'e', 'n', 'da', 'g')
if not head[1] then
  return { 'NO_CONTAINER' }
end
if head[4] then return { 'THREAD_DELETED' } end
local id = ARGV[2]
local raw = redis.call('HGET', KEYS[4], id)
if not raw then
  return { 'NO_MESSAGE' }
end
local seq = redis.call('ZSCORE', KEYS[2], id)
local visible = seq ~= false
if not visible then seq = redis.call('ZSCORE', KEYS[3], id) end
local rec = cjson.decode(raw)
local op = ARGV[1]

local function nowNanos()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2])) .. '000'
end

-- The record with `s` first, then the other fields.
local function encode(r)
  local rest = {}
  for k, v in pairs(r) do
    if k ~= 's' then rest[k] = v end
  end
  return '{"s":"' .. r.s .. '",' .. string.sub(cjson.encode(rest), 2)
end

local function moveTo(fromKey, toKey, countDelta)
  redis.call('ZREM', fromKey, id)
  redis.call('ZADD', toKey, seq, id)
  redis.call('HSET', KEYS[1], 'n', (tonumber(head[3]) or 0) + countDelta)
end

local function changed(type, now)
  local out = encode(rec)
  redis.call('HSET', KEYS[4], id, out)
  local pos = feedPosition(head[2], head[1]) + 1
  redis.call('HSET', KEYS[1], 'ua', now, 'e', pos)
  feedAppend(KEYS[5], pos, type, id, seq, string.sub(now, 1, 13), ARGV[5], out)
  return { 'OK', tonumber(seq), out, head[5] or '', now }
end

local now = nowNanos()
if op == 'update' then
  if rec.d then return { 'MESSAGE_DELETED' } end
  if ARGV[3] ~= '' then rec.t = ARGV[3] end
  if ARGV[4] ~= '' then
    local merged, broken = mergeMetadata(rec.m and cjson.encode(rec.m) or '', ARGV[4], ARGV[6], ARGV[7])
    if not merged then return { 'BAD_METADATA', broken } end
    if merged == '' then rec.m = nil else rec.m = cjson.decode(merged) end
  end
  rec.e = now
  return changed('updated', now)
elseif op == 'delete' then
  if rec.d then return { 'OK', tonumber(seq), raw } end
  rec.d = now
  moveTo(KEYS[2], KEYS[3], -1)
  return changed('deleted', now)
elseif op == 'restore' then
  if rec.p then return { 'MESSAGE_PURGED' } end
  if not rec.d then return { 'OK', tonumber(seq), raw } end
  rec.d = nil
  moveTo(KEYS[3], KEYS[2], 1)
  return changed('restored', now)
elseif op == 'purge' then
  if rec.p then return { 'OK', tonumber(seq), raw } end
  -- The text and metadata go for good; the tombstone keeps id, author, seq, sent_at, deleted_at.
  rec = { s = rec.s, a = rec.a, d = rec.d or now, p = 1 }
  if visible then moveTo(KEYS[2], KEYS[3], -1) end
  return changed('purged', now)
end
return redis.error_reply('changeMessage: unknown op ' .. tostring(op))
