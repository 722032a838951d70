--[[
  nextSentAt(last): the sent_at for a new message, in Unix nanoseconds as a
  19-digit decimal string: the Redis server's clock, or last + 1 ns when the
  clock has not moved past `last`. Taking the time here, inside the script that
  appends, makes sent_at strictly increase in acceptance order whichever
  service instance wrote. Strings of equal length compare as numbers (until 2286).
]]
local function nowNanos()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2])) .. '000'
end

local function nextSentAt(last)
  local now = nowNanos()
  if not last or last == '' or now > last then
    return now
  end
  local sec = string.sub(last, 1, -10)
  local ns = tonumber(string.sub(last, -9)) + 1
  if ns >= 1000000000 then
    sec = tostring(tonumber(sec) + 1)
    ns = 0
  end
  return sec .. string.format('%09d', ns)
end
