--[[
  Token bucket: takes one token if there is one. Kept in Redis so every
  service instance draws from the same bucket. Time comes from Redis's clock
  (microseconds fit a Lua number exactly).

  KEYS[1]  bucket hash { t = tokens left, at = last refill in µs }
  ARGV[1]  refill rate, tokens per second (> 0)
  ARGV[2]  burst: the bucket's size (>= 1)

  Returns  { 1, 0 } when a token was taken; { 0, ms } when empty, ms being the
           wait until one token is back.
]]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
-- A full bucket carries no information: let it expire once it would be full again.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, wait }
