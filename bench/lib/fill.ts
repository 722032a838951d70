/**
 * Fills a thread fast by writing Redis directly, in the store's exact layout
 * (src/store/keys.ts, src/store/lua/appendMessage-7.lua):
 *
 *   pl1:{<ns>:t:<id>}:seq   zset  message id -> seq
 *   pl1:{<ns>:t:<id>}:msg   hash  message id -> its record, {"s": sent_at, …} (src/store/record.ts)
 *   pl1:{<ns>:t:<id>}:meta  hash  s (last seq), n (count), l (last sent_at)
 *
 * The thread itself is created through the API first, so its record and group
 * index are the service's own. The messages are made inside Redis by a script,
 * 50,000 per call in variadic ZADD/HSET commands of 2,000: ids shaped like the
 * service's UUIDs (36 characters, unique per fill), sent_at 1 µs apart after
 * the thread's last one. The benchmark's ids need no escaping.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { encodeNewMessage } from '../../src/store/record';

export function threadKeys(ns: string, id: string): { meta: string; order: string; bodies: string } {
  if (!/^[A-Za-z0-9._-]+$/.test(ns + id)) throw new Error(`fill: ${ns}/${id} would need escaping`);
  const base = `pl1:{${ns}:t:${id}}`;
  return { meta: `${base}:meta`, order: `${base}:seq`, bodies: `${base}:msg` };
}

// KEYS: meta, order, bodies. ARGV: count, the record without "s" (record.ts encodeNewMessage), id prefix (8 hex),
// seconds (10 digits), first µs within them. "s" goes in front as the append script puts it.
// Returns { last seq, last sent_at }.
const FILL = `
local count = tonumber(ARGV[1])
local json = ARGV[2]
local prefix = ARGV[3]
local sec = tonumber(ARGV[4])
local us = tonumber(ARGV[5])
local seq = tonumber(redis.call('HGET', KEYS[1], 's'))
local last = ''
local done = 0
while done < count do
  local n = math.min(2000, count - done)
  local z, h = {}, {}
  for i = 1, n do
    seq = seq + 1
    us = us + 1
    if us >= 1000000 then sec = sec + 1; us = 0 end
    local id = string.format('%s-%04x-4%03x-8000-%012x', prefix, seq % 65536, math.floor(seq / 65536) % 4096, seq)
    last = string.format('%010d%06d000', sec, us)
    z[#z + 1] = seq
    z[#z + 1] = id
    h[#h + 1] = id
    h[#h + 1] = '{"s":"' .. last .. '",' .. string.sub(json, 2)
  end
  redis.call('ZADD', KEYS[2], unpack(z))
  redis.call('HSET', KEYS[3], unpack(h))
  done = done + n
end
redis.call('HSET', KEYS[1], 's', seq, 'l', last)
redis.call('HINCRBY', KEYS[1], 'n', count)
return { seq, last, sec, us }
`;

/** Appends `count` messages after what the thread holds. Returns the number of messages written. */
export async function fillThread(redis: Redis, ns: string, threadId: string, count: number, author: string, text: string): Promise<number> {
  const k = threadKeys(ns, threadId);
  const [s, l] = await redis.hmget(k.meta, 's', 'l');
  if (s === null) throw new Error(`fill: thread ${threadId} does not exist`);
  // sent_at after the thread's last one, and after now.
  let start = BigInt(Date.now()) * 1_000_000n;
  if (l && BigInt(l) >= start) start = BigInt(l) + 1000n;
  let sec = Number(start / 1_000_000_000n);
  let us = Number((start % 1_000_000_000n) / 1000n);
  const prefix = randomBytes(4).toString('hex');
  const json = encodeNewMessage({ authorId: author, text, metadata: {} });
  let written = 0;
  while (written < count) {
    const n = Math.min(50_000, count - written);
    const r = (await redis.eval(FILL, 3, k.meta, k.order, k.bodies, n, json, prefix, sec, us)) as [number, string, number, number];
    sec = r[2];
    us = r[3];
    written += n;
  }
  return written;
}

// KEYS: meta, order (visible), deleted order, records. ARGV: first seq, last seq, deleted_at (19 digits).
// Moves every message of an even seq in [first, last] from the visible zset to the deleted one, adds "d"
// to its record (at the end: "s" stays first) and lowers the count `n`. Returns how many it moved.
const DELETE_EVEN = `
local t = ARGV[3]
local page = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[2], 'WITHSCORES')
local ids, z = {}, {}
for i = 1, #page, 2 do
  if tonumber(page[i + 1]) % 2 == 0 then
    ids[#ids + 1] = page[i]
    z[#z + 1] = page[i + 1]
    z[#z + 1] = page[i]
  end
end
local moved = 0
for c = 1, #ids, 1000 do
  local chunk, zc, h = {}, {}, {}
  for j = c, math.min(c + 999, #ids) do
    chunk[#chunk + 1] = ids[j]
    zc[#zc + 1] = z[2 * j - 1]
    zc[#zc + 1] = z[2 * j]
  end
  local recs = redis.call('HMGET', KEYS[4], unpack(chunk))
  for j = 1, #chunk do
    h[#h + 1] = chunk[j]
    h[#h + 1] = string.sub(recs[j], 1, -2) .. ',"d":"' .. t .. '"}'
  end
  redis.call('ZREM', KEYS[2], unpack(chunk))
  redis.call('ZADD', KEYS[3], unpack(zc))
  redis.call('HSET', KEYS[4], unpack(h))
  moved = moved + #chunk
end
redis.call('HINCRBY', KEYS[1], 'n', -moved)
return moved
`;

/**
 * Deletes every message of an even seq of a thread, in the store's layout (src/store/keys.ts, as
 * lua/changeMessage-5.lua leaves a deleted message): the id moves from `:seq` to `:del` with its seq,
 * its record gets "d" (deleted_at: now), the meta count `n` drops. No feed events are written (the
 * fill writes none either). 20,000 seqs per script call. Returns the number deleted.
 */
export async function deleteEvenSeqs(redis: Redis, ns: string, threadId: string): Promise<number> {
  const k = threadKeys(ns, threadId);
  const last = Number(await redis.hget(k.meta, 's'));
  const deletedAt = `${BigInt(Date.now()) * 1_000_000n}`;
  let moved = 0;
  for (let first = 1; first <= last; first += 20_000) {
    moved += Number(await redis.eval(DELETE_EVEN, 4, k.meta, k.order, `${k.order.slice(0, -':seq'.length)}:del`, k.bodies, first, Math.min(last, first + 19_999), deletedAt));
  }
  return moved;
}
