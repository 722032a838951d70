--[[
  Removes a container, all its messages and its feed. UNLINK frees large
  values on Redis's background thread, so this takes the same time for 10
  messages as for 1,000,000. For a thread or conversation the caller then
  removes the id from its group index (another slot on a cluster; a list that
  meets an index entry without a record skips and removes it). For a chat the
  caller has removed its user set's mapping before (redis-store.ts says why).

  KEYS[1]  meta hash
  KEYS[2]  visible order zset
  KEYS[3]  deleted order zset
  KEYS[4]  message records hash
  KEYS[5]  feed stream
  KEYS[6]  read pointers hash
  KEYS[7]  participants hash (threads)
  KEYS[8]  participants join order zset (threads)
  ARGV[1]  'delete' (DeleteThread and the like: an absent id succeeds) or
           'purge' (PurgeThread: only a thread in the trash)
  ARGV[2]  at most about this many reader ids are returned (the rest of the readers'
           index entries are dropped by the GetUnread that meets them): a thread read by
           a million users is deleted in the time of one read by ten

  Returns  { 'OK', group id ("" for none), user ids JSON ("" but for chats),
           created_by, parent message id, participant ids, reader ids } for the caller's
           index follow-ups, or { 'OK' } when a deleted container was absent;
           for 'purge' { 'NO_CONTAINER' } or { 'NOT_DELETED' } instead.
]]
local rec = redis.call('HMGET', KEYS[1], 'g', 'u', 'cb', 'pm', 'da')
if not rec[1] then
  if ARGV[1] == 'purge' then return { 'NO_CONTAINER' } end
  return { 'OK' }
end
if ARGV[1] == 'purge' and not rec[5] then return { 'NOT_DELETED' } end
local participants = redis.call('ZRANGE', KEYS[8], 0, -1)
local readers = {}
if rec[1] ~= '' then
  if redis.call('HLEN', KEYS[6]) <= tonumber(ARGV[2]) then
    readers = redis.call('HKEYS', KEYS[6])
  else
    -- One bounded step of a scan: some readers, never all of a large hash.
    local page = redis.call('HSCAN', KEYS[6], 0, 'COUNT', ARGV[2])[2]
    for i = 1, #page, 2 do readers[#readers + 1] = page[i] end
  end
end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
return { 'OK', rec[1], rec[2] or '', rec[3] or '', rec[4] or '', participants, readers }
