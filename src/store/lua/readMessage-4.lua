--[[
  One message of a container, as stored, with its seq.

  KEYS[1]  meta hash
  KEYS[2]  visible order zset
  KEYS[3]  deleted order zset
  KEYS[4]  records hash
  ARGV[1]  message id

  Returns  { 'NO_CONTAINER' }, { 'NO_MESSAGE' }, or { 'OK', seq, record }.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 'NO_CONTAINER' }
end
local raw = redis.call('HGET', KEYS[4], ARGV[1])
if not raw then
  return { 'NO_MESSAGE' }
end
local seq = redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('ZSCORE', KEYS[3], ARGV[1])
return { 'OK', tonumber(seq), raw }
