/**
 * The storage part of the floors: one EVALSHA of a minimal script per call,
 * shared by the gRPC storage floor (servers/bare-grpc.ts, BENCH_MODE=storage)
 * and the in-process JSON floor (servers/bare-express.ts, BENCH_MODE=storage),
 * so both do exactly the same Redis work and differ only in the transport.
 *
 *   createMessage   next seq, TIME, ZADD id, HSET body — into its own keys (bfl:…)
 *   listMessages    ZRANGE + HMGET of the real thread's keys (the same reads as the service)
 *   recentMessages  the same for every listed thread, all in one script
 *   createChat      one hash per user set (sha256 of the sorted ids): read it or create it
 *   updateMessage   HGET the record (+ ZSCORE: the seq the reply carries; absent = deleted),
 *                   decode, new text and edited time (TIME), encode, HSET, XADD an event
 *   deleteMessage   ZSCORE, HGET the record, decode, deleted time (TIME), encode, ZREM from
 *                   the visible zset, ZADD to the deleted one, HSET, XADD an event
 *
 * Update and delete work on the thread named in the request, in the store's layout
 * (a thread of their own, filled for the floor: lib/fill.ts), and leave out what the
 * service's changeMessage does besides: the container check (HMGET of meta), the
 * count `n` and feed position `e` in meta, the explicit stream id, the SPUBLISH
 * wake-up, keeping "s" first in the record, metadata.
 *
 * No auth, no validation, no logging, no metrics. Replies are the test/gen
 * (ts-proto) message types; the JSON floor maps them to JSON by hand.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Chat } from '../../test/gen/chats/chats';
import type { Message } from '../../test/gen/threads/threads';

const CREATE_MESSAGE = `
local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return { seq, t[1], t[2] }
`;

// ARGV[1] = count; KEYS = order1, bodies1, order2, bodies2, … → { page1, bodies1, page2, bodies2, … },
// page = { id, seq, id, seq, … } oldest first.
const READ_LATEST = `
local out = {}
for k = 1, #KEYS, 2 do
  local page = redis.call('ZRANGE', KEYS[k], -tonumber(ARGV[1]), -1, 'WITHSCORES')
  if #page > 0 then
    local ids = {}
    for i = 1, #page, 2 do ids[#ids + 1] = page[i] end
    out[#out + 1] = page
    out[#out + 1] = redis.call('HMGET', KEYS[k + 1], unpack(ids))
  else
    out[#out + 1] = {}
    out[#out + 1] = {}
  end
end
return out
`;

const CHAT = `
local r = redis.call('HMGET', KEYS[1], 'id', 'c')
if r[1] then return r end
local t = redis.call('TIME')
local c = t[1] .. string.format('%06d', tonumber(t[2])) .. '000'
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'c', c, 'u', ARGV[2])
return { ARGV[1], c }
`;

/** Events kept per feed stream, as the service's default FEED_RETENTION_EVENTS. */
const FEED_RETENTION = 10_000;

// KEYS: order (visible), records, feed. ARGV: id, text, retention. → { seq, sent_at, edited_at } or nil.
const UPDATE_MESSAGE = `
local seq = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not seq then return false end
local rec = cjson.decode(redis.call('HGET', KEYS[2], ARGV[1]))
local t = redis.call('TIME')
local now = t[1] .. string.format('%06d', tonumber(t[2])) .. '000'
rec.t = ARGV[2]
rec.e = now
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(rec))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 't', 'updated', 'm', ARGV[1], 'q', seq, 'w', string.sub(now, 1, 13))
return { seq, rec.s, now }
`;

// KEYS: order (visible), deleted order, records, feed. ARGV: id, retention. → { seq, sent_at, author, deleted_at } or nil.
const DELETE_MESSAGE = `
local seq = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not seq then return false end
local rec = cjson.decode(redis.call('HGET', KEYS[3], ARGV[1]))
local t = redis.call('TIME')
local now = t[1] .. string.format('%06d', tonumber(t[2])) .. '000'
rec.d = now
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(rec))
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 't', 'deleted', 'm', ARGV[1], 'q', seq, 'w', string.sub(now, 1, 13))
return { seq, rec.s, rec.a, now }
`;

interface Scripted extends Redis {
  floorCreateMessage(meta: string, order: string, bodies: string, id: string, body: string): Promise<[number, number, number]>;
  /** Flat: ids-with-scores, bodies, ids-with-scores, bodies, … */
  floorReadLatest(numKeys: number, ...args: (string | number)[]): Promise<(string | null)[][]>;
  floorChat(key: string, id: string, users: string): Promise<[string, string]>;
  floorUpdateMessage(order: string, bodies: string, feed: string, id: string, text: string, retention: number): Promise<[string, string, string] | null>;
  floorDeleteMessage(order: string, deleted: string, bodies: string, feed: string, id: string, retention: number): Promise<[string, string, string, string] | null>;
}

/** Stored bodies are "<sent_at>|<json>": the floor does not decode them. */
function toMessages(threadId: string, page: string[], bodies: (string | null)[], out: Message[]): void {
  for (let i = bodies.length - 1; i >= 0; i--) {
    const body = bodies[i] ?? '';
    const bar = body.indexOf('|');
    out.push({ id: page[2 * i], authorId: '', threadId, text: body.slice(bar + 1), sentAt: body.slice(0, bar), seq: page[2 * i + 1], metadata: {}, editedAt: '', deletedAt: '' });
  }
}

export class FloorStore {
  private constructor(
    private readonly redis: Scripted,
    private readonly ns: string,
  ) {}

  /** ioredis with auto-pipelining, as the service's store; each script is sent by EVALSHA. */
  static async connect(url: string, ns: string): Promise<FloorStore> {
    const r = new Redis(url, { enableAutoPipelining: true, lazyConnect: true });
    r.defineCommand('floorCreateMessage', { numberOfKeys: 3, lua: CREATE_MESSAGE });
    r.defineCommand('floorReadLatest', { lua: READ_LATEST });
    r.defineCommand('floorChat', { numberOfKeys: 1, lua: CHAT });
    r.defineCommand('floorUpdateMessage', { numberOfKeys: 3, lua: UPDATE_MESSAGE });
    r.defineCommand('floorDeleteMessage', { numberOfKeys: 4, lua: DELETE_MESSAGE });
    await r.connect();
    return new FloorStore(r as Scripted, ns);
  }

  private threadBase(id: string): string {
    return `pl1:{${this.ns}:t:${id}}`;
  }

  async createMessage(threadId: string, authorId: string, text: string): Promise<Message> {
    const id = randomUUID();
    const base = `bfl:{${this.ns}:t:${threadId}}`;
    const [seq, sec, usec] = await this.redis.floorCreateMessage(`${base}:meta`, `${base}:seq`, `${base}:msg`, id, JSON.stringify([authorId, text]));
    const sentAt = new Date(sec * 1000 + usec / 1000).toISOString();
    return { id, authorId, threadId, text, sentAt, seq: String(seq), metadata: {}, editedAt: '', deletedAt: '' };
  }

  async listMessages(threadId: string, limit: number): Promise<Message[]> {
    const b = this.threadBase(threadId);
    const r = await this.redis.floorReadLatest(2, `${b}:seq`, `${b}:msg`, limit || 25);
    const messages: Message[] = [];
    toMessages(threadId, r[0] as string[], r[1], messages);
    return messages;
  }

  async recentMessages(threadIds: string[], perThread: number): Promise<Message[]> {
    const keys: string[] = [];
    for (const id of threadIds) keys.push(`${this.threadBase(id)}:seq`, `${this.threadBase(id)}:msg`);
    const r = await this.redis.floorReadLatest(keys.length, ...keys, perThread || 25);
    const messages: Message[] = [];
    for (let i = 0; i < threadIds.length; i++) toMessages(threadIds[i], r[2 * i] as string[], r[2 * i + 1], messages);
    return messages;
  }

  async createChat(userIds: string[]): Promise<Chat> {
    const users = [...new Set(userIds)].sort();
    const h = createHash('sha256');
    for (const u of users) h.update(`${Buffer.byteLength(u)}:${u}`);
    const [id, c] = await this.redis.floorChat(`bfl:{${this.ns}:cu:${h.digest('hex')}}`, randomUUID(), JSON.stringify(users));
    return { id, userIds: users, createdAt: c, metadata: {}, lastMessageAt: '0', messageCount: '0', updatedAt: c, unreadCount: '0', lastMessage: undefined };
  }

  /** null: no such visible message (the gRPC floor answers NOT_FOUND). Times are the stored 19-digit strings. */
  async updateMessage(threadId: string, id: string, text: string): Promise<Message | null> {
    const b = this.threadBase(threadId);
    const r = await this.redis.floorUpdateMessage(`${b}:seq`, `${b}:msg`, `${b}:feed`, id, text, FEED_RETENTION);
    if (!r) return null;
    return { id, authorId: '', threadId, text, sentAt: r[1], seq: String(r[0]), metadata: {}, editedAt: r[2], deletedAt: '' };
  }

  /** null: no such visible message. The reply is the tombstone, as the service's. */
  async deleteMessage(threadId: string, id: string): Promise<Message | null> {
    const b = this.threadBase(threadId);
    const r = await this.redis.floorDeleteMessage(`${b}:seq`, `${b}:del`, `${b}:msg`, `${b}:feed`, id, FEED_RETENTION);
    if (!r) return null;
    return { id, authorId: r[2], threadId, text: '', sentAt: r[1], seq: String(r[0]), metadata: {}, editedAt: '', deletedAt: r[3] };
  }

  disconnect(): void {
    this.redis.disconnect();
  }
}
