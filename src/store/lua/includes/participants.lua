--[[
  A thread's participants (README, "A richer thread"), beside its other keys:
  a hash `…:pp` (participant id -> JSON record) and a zset `…:pj` (participant
  id -> join position 1, 2, 3…, the last one handed out in the meta field
  `pc`). A record is {"j": joined_at (ns), "y": type, "n": name, "r": role,
  "m": metadata (absent when empty)}; the caller encodes all but "j" (with
  "r" exactly "read_only" for read-only participants: appendMessage looks for it).

  participantsAdd(meta, pp, pj, args, from, now, max): adds or replaces the
  participants given as pairs args[from], args[from + 1]… (id, record without
  "j"): a new id joins at the next position with joined_at `now`; an id
  already there keeps its joined_at and position. Returns the ids that are
  new, or nil (and writes nothing) when the thread would hold more than `max`.
]]
local function participantsAdd(meta, pp, pj, args, from, now, max)
  local fresh, seen = 0, {}
  for i = from, #args, 2 do
    local id = args[i]
    if not seen[id] and redis.call('HEXISTS', pp, id) == 0 then fresh = fresh + 1 end
    seen[id] = true
  end
  if redis.call('ZCARD', pj) + fresh > tonumber(max) then return nil end
  local added = {}
  local start = tonumber(redis.call('HGET', meta, 'pc') or '0')
  local pos = start
  for i = from, #args, 2 do
    local id = args[i]
    local old = redis.call('HGET', pp, id)
    local joined = now
    if old then
      joined = cjson.decode(old).j
    else
      pos = pos + 1
      redis.call('ZADD', pj, pos, id)
      added[#added + 1] = id
    end
    redis.call('HSET', pp, id, '{"j":"' .. joined .. '",' .. string.sub(args[i + 1], 2))
  end
  if pos ~= start then redis.call('HSET', meta, 'pc', pos) end
  return added
end

--[[
  participantsAll(pp, pj): every participant in join order, as a flat list
  { id1, record1, id2, record2, … } (at most MAX_PARTICIPANTS).
]]
local function participantsAll(pp, pj)
  local ids = redis.call('ZRANGE', pj, 0, -1)
  local out = {}
  if #ids == 0 then return out end
  local recs = redis.call('HMGET', pp, unpack(ids))
  for i = 1, #ids do
    out[#out + 1] = ids[i]
    out[#out + 1] = recs[i] or '{}'
  end
  return out
end
