/**
 * Consistency of everything the store holds, read straight from Redis (tests
 * only: it SCANs the whole keyspace). Returns the problems found, empty when
 * the store is consistent.
 */
import type { Redis } from 'ioredis';

async function scanAll(r: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

const KINDS: Record<string, string> = { t: 'thread', c: 'chat', v: 'conversation' };

export async function storeProblems(r: Redis): Promise<string[]> {
  const problems: string[] = [];
  const metas = await scanAll(r, 'pl1:{*}:meta');
  const metaTags = new Set(metas.map((k) => k.slice(0, -':meta'.length)));

  for (const base of metaTags) {
    const [id, group, , , , s, n] = await r.hmget(`${base}:meta`, 'id', 'g', 't', 'c', 'u', 's', 'n');
    const card = await r.zcard(`${base}:seq`);
    const deleted = await r.zcard(`${base}:del`);
    const bodies = await r.hlen(`${base}:msg`);
    // The count is of messages not deleted; every seq handed out is one message, visible or deleted.
    if (card !== Number(n) || bodies !== card + deleted) problems.push(`${base}: count ${n}, order ${card}, deleted ${deleted}, bodies ${bodies}`);
    if (Number(s) !== card + deleted) problems.push(`${base}: last seq ${s}, but ${card} + ${deleted} messages`);
    const entries = await r.zrange(`${base}:seq`, 0, -1, 'WITHSCORES');
    let lastSent = '';
    for (let i = 0; i < entries.length; i += 2) {
      const body = await r.hget(`${base}:msg`, entries[i]);
      if (body === null) {
        problems.push(`${base}: message ${entries[i]} has no body`);
        continue;
      }
      let record: { s?: unknown; a?: unknown; t?: unknown };
      try {
        record = JSON.parse(body) as typeof record;
      } catch {
        problems.push(`${base}: record of ${entries[i]} is not JSON`);
        continue;
      }
      const sentAt = String(record.s);
      if (!/^\d{19}$/.test(sentAt) || typeof record.a !== 'string' || typeof record.t !== 'string') {
        problems.push(`${base}: record of ${entries[i]} lacks s, a or t`);
      }
      if (!(sentAt > lastSent)) problems.push(`${base}: sent_at not increasing at seq ${entries[i + 1]}`);
      lastSent = sentAt;
    }
    // Threads and conversations are in their group's index (a thread in the trash: in the trash order).
    const m = /^pl1:\{([^:]*):([tv]):[^}]*\}$/.exec(base);
    if (m) {
      const trashed = (await r.hexists(`${base}:meta`, 'da')) === 1;
      const idx = `pl1:{${m[1]}:${m[2]}g:${encodeGroup(group ?? '')}}:${trashed ? 'tr' : 'idx'}`;
      if ((await r.zscore(idx, id ?? '')) === null) problems.push(`${base}: not in its ${KINDS[m[2]]} group ${trashed ? 'trash order' : 'index'}`);
    }
  }
  // No message data without its container record.
  for (const k of [...(await scanAll(r, 'pl1:{*}:seq')), ...(await scanAll(r, 'pl1:{*}:del')), ...(await scanAll(r, 'pl1:{*}:msg')), ...(await scanAll(r, 'pl1:{*}:feed'))]) {
    if (!metaTags.has(k.slice(0, k.lastIndexOf(':')))) problems.push(`${k}: messages without a container`);
  }
  // Every group index entry names a container that exists.
  for (const idx of await scanAll(r, 'pl1:{*}:idx')) {
    const m = /^pl1:\{([^:]*):([tv])g:/.exec(idx)!;
    for (const id of await r.zrange(idx, 0, -1)) {
      if (!metaTags.has(`pl1:{${m[1]}:${m[2]}:${encodeGroup(id)}}`)) problems.push(`${idx}: entry ${id} has no container`);
    }
  }
  return problems;
}

// Same escaping as src/store/keys.ts, re-derived here so the check does not trust the code it checks.
function encodeGroup(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._-]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
