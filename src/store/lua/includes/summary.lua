--[[
  summary(meta, order, records, reads, user, withLast, fields): a container
  as a reader sees it (lua/summary-4.lua says what each part is); `fields`
  the record's fields to answer, in their order (src/store/record.ts
  SUMMARY_FIELDS; the first is the id: absent means no container).
]]
local function summary(meta, order, records, reads, user, withLast, fields)
  local rec = redis.call('HMGET', meta, unpack(fields))
  if not rec[1] then
    return { 'NO_CONTAINER' }
  end
  local unread = -1
  if user ~= '' then
    local at = redis.call('HGET', reads, user) or '0'
    unread = redis.call('ZCOUNT', order, '(' .. at, '+inf')
  end
  local lastId, lastSeq, lastRecord = '', '', ''
  if withLast == '1' then
    local newest = redis.call('ZRANGE', order, -1, -1, 'WITHSCORES')
    if #newest > 0 then
      lastId, lastSeq = newest[1], newest[2]
      lastRecord = redis.call('HGET', records, lastId)
    end
  end
  return { 'OK', rec, unread, lastId, lastSeq, lastRecord }
end
