--[[
  Changes a container's topic and merges into its metadata, when it exists
  (UpdateThread, UpdateConversation).

  KEYS[1]  meta hash
  ARGV[1]  the new topic ('' keeps it)
  ARGV[2]  metadata changes as a JSON object ('' for none; an empty value removes its key)
  ARGV[3]  MAX_METADATA_KEYS
  ARGV[4]  MAX_METADATA_BYTES

  Returns  { 'NO_CONTAINER' }, { 'BAD_METADATA', limit } (nothing written), or
           { 'OK', record } (record: includes/readMeta).
]]
--- @include "includes/readMeta"
--- @include "includes/metadata"

if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 'NO_CONTAINER' }
end
if redis.call('HEXISTS', KEYS[1], 'da') == 1 then return { 'THREAD_DELETED' } end
if ARGV[2] ~= '' then
  local merged, broken = mergeMetadata(redis.call('HGET', KEYS[1], 'md'), ARGV[2], ARGV[3], ARGV[4])
  if not merged then return { 'BAD_METADATA', broken } end
  if merged == '' then redis.call('HDEL', KEYS[1], 'md') else redis.call('HSET', KEYS[1], 'md', merged) end
end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 't', ARGV[1]) end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'ua', t[1] .. string.format('%06d', tonumber(t[2])) .. '000')
return { 'OK', readMeta(KEYS[1]) }
