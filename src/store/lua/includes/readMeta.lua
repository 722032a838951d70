--[[
  readMeta(key): the container record, every field by name, as HGETALL's flat
  list { name1, value1, … } (the fields are listed in src/store/record.ts).
]]
local function readMeta(key)
  return redis.call('HGETALL', key)
end
