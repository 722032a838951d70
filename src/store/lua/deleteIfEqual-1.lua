--[[
  Deletes a key only while it still holds the expected value (a chat user-set
  mapping that turned out to be stale), so a newer value is never removed.

  KEYS[1]  the key
  ARGV[1]  the expected value

  Returns  1 when deleted, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
