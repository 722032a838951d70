/**
 * Fills a thread fast by writing Redis directly, in the store's exact layout
 * (src/store/keys.ts, src/store/lua/appendMessage-3.lua):
 *
 *   pl1:{<ns>:t:<id>}:seq   zset  message id -> seq
 *   pl1:{<ns>:t:<id>}:msg   hash  message id -> "<sent_at ns, 19 digits>|<JSON [author_id, text]>"
 *   pl1:{<ns>:t:<id>}:meta  hash  s (last seq), n (count), l (last sent_at)
 *
 * The thread itself is created through the API first, so its record and group
 * index are the service's own. Ids are escaped by the store; the benchmark's
 * ids (UUIDs, "default") need no escaping.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export function threadKeys(ns: string, id: string): { meta: string; order: string; bodies: string } {
  if (!/^[A-Za-z0-9._-]+$/.test(ns + id)) throw new Error(`fill: ${ns}/${id} would need escaping`);
  const base = `pl1:{${ns}:t:${id}}`;
  return { meta: `${base}:meta`, order: `${base}:seq`, bodies: `${base}:msg` };
}

/** Appends `count` messages after what the thread holds. Returns the number of messages written. */
export async function fillThread(redis: Redis, ns: string, threadId: string, count: number, author: string, text: string): Promise<number> {
  const k = threadKeys(ns, threadId);
  const [s, l] = await redis.hmget(k.meta, 's', 'l');
  if (s === null) throw new Error(`fill: thread ${threadId} does not exist`);
  let seq = Number(s);
  // sent_at: strictly increasing, 1 µs apart, after the last one (and after now).
  let t = BigInt(Date.now()) * 1_000_000n;
  if (l && BigInt(l) >= t) t = BigInt(l) + 1000n;
  const json = JSON.stringify([author, text]);
  const batch = 2000;
  let written = 0;
  let pending: Promise<unknown>[] = [];
  while (written < count) {
    const n = Math.min(batch, count - written);
    const zargs: (string | number)[] = [];
    const hargs: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      seq++;
      t += 1000n;
      zargs.push(seq, id);
      hargs.push(id, `${t}|${json}`);
    }
    pending.push(redis.zadd(k.order, ...zargs), redis.hset(k.bodies, ...hargs));
    written += n;
    if (pending.length >= 16) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await redis.hset(k.meta, 's', seq, 'n', Number((await redis.hget(k.meta, 'n')) ?? 0) + count, 'l', t.toString());
  return written;
}
