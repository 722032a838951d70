--[[
  mergeMetadata(current, changes, maxKeys, maxBytes): the metadata map after
  merging `changes` (a JSON object; an empty value removes its key) into
  `current` (a JSON object, or nil/'' for none), as JSON, or nil and the name
  of the limit the merged map would break ('MAX_METADATA_KEYS',
  'MAX_METADATA_BYTES': keys and values together). Key sizes and UTF-8 are
  checked by the caller on the keys it sends; stored keys passed before.
]]
local function mergeMetadata(current, changes, maxKeys, maxBytes)
  local map = {}
  if current and current ~= '' then map = cjson.decode(current) end
  for k, v in pairs(cjson.decode(changes)) do
    if v == '' then map[k] = nil else map[k] = v end
  end
  local keys, bytes = 0, 0
  for k, v in pairs(map) do
    keys = keys + 1
    bytes = bytes + #k + #v
  end
  if keys > tonumber(maxKeys) then return nil, 'MAX_METADATA_KEYS' end
  if bytes > tonumber(maxBytes) then return nil, 'MAX_METADATA_BYTES' end
  if keys == 0 then return '' end
  return cjson.encode(map)
end
