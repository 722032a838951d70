--[[
  Sets a container's topic when it exists.

  KEYS[1]  meta hash
  ARGV[1]  the new topic

  Returns  { 'NO_CONTAINER' }, or { 'OK', record } (record: includes/readMeta).
]]
--- @include "includes/readMeta"

if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 'NO_CONTAINER' }
end
redis.call('HSET', KEYS[1], 't', ARGV[1])
return { 'OK', readMeta(KEYS[1]) }
