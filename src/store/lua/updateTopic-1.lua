--[[
  Sets a container's topic when it exists.

  KEYS[1]  meta hash
  ARGV[1]  the new topic

  Returns  the updated record (includes/readMeta), or nil when absent.
]]
--- @include "includes/readMeta"

if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
redis.call('HSET', KEYS[1], 't', ARGV[1])
return readMeta(KEYS[1])
