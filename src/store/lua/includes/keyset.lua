--[[
  keysetPage(key, order, limit, cursorDir, at): one page of the sorted set
  `key` by score (a message's seq, a container's order in its group), in
  O(log n + page):

    order      'asc' (lowest score first) or 'desc'
    cursorDir  'after': the `limit` members that follow score `at` in that
               order; 'before': the `limit` that precede it, those nearest to
               it, still returned in that order
    at         the cursor's score as a string of digits (the member there may be
               gone: a position); kept a string, since Lua turns numbers into
               strings with 14 significant digits

  Returns members, scores (in the page's order), hasMore (more members lie
  beyond the page in the direction asked) and followsLast (a member follows
  the page's last one in the chosen order).
]]
local function keysetPage(key, order, limit, cursorDir, at)
  local forward = (cursorDir == 'after') == (order == 'asc')
  local raw
  if forward then
    raw = redis.call('ZRANGEBYSCORE', key, '(' .. at, '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1)
  else
    raw = redis.call('ZREVRANGEBYSCORE', key, '(' .. at, '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 1)
  end
  local hasMore = #raw > 2 * limit
  local n = math.min(#raw / 2, limit)
  local members, scores = {}, {}
  -- 'after' reads away from the cursor in the chosen order; 'before' reads away from it against
  -- the chosen order, so its page is turned around.
  local from, to, step = 1, n, 1
  if cursorDir == 'before' then from, to, step = n, 1, -1 end
  for i = from, to, step do
    members[#members + 1] = raw[2 * i - 1]
    scores[#scores + 1] = raw[2 * i]
  end
  local followsLast = false
  if #members > 0 then
    local last = scores[#scores]
    local next
    if order == 'asc' then
      next = redis.call('ZRANGEBYSCORE', key, '(' .. last, '+inf', 'LIMIT', 0, 1)
    else
      next = redis.call('ZREVRANGEBYSCORE', key, '(' .. last, '-inf', 'LIMIT', 0, 1)
    end
    followsLast = #next > 0
  end
  return members, scores, hasMore, followsLast
end
