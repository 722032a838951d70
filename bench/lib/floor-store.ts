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
 *   listChats       ZREVRANGE of a user's inbox 0..limit-1, then per chat HGETALL meta,
 *                   ZRANGE -1 -1 of its seq zset, HGET that record, HGET the user's read
 *                   pointer, ZCOUNT after it: ALL in one script (issue 16)
 *   markRead        ZSCORE of the message, HGET the user's pointer, HSET when it moves
 *                   forward, HGETALL meta (the reply's thread), ZCOUNT after the pointer
 *   readUnread      HGETALL meta, HGET the user's pointer, ZCOUNT after it (ReadThread
 *                   with user_id)
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
import { lightPipelines } from '../../src/store/light-pipelines';
import type { Chat } from '../../test/gen/chats/chats';
import type { Message, Thread } from '../../test/gen/threads/threads';

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

// KEYS[1]: a user's inbox (zset chat id -> activity). ARGV: the chats' key prefix ("pl1:{<ns>:c:"), user id, limit.
// → { { meta (HGETALL), { newest id, seq } or {}, its record or '', unread }, … } newest activity first.
// The chats' keys are built inside the script and are not declared in KEYS: allowed on one Redis (not
// in cluster mode, where each chat lives in a slot of its own), which is what the benchmark runs.
const LIST_CHATS = `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
local out = {}
for i = 1, #ids do
  local b = ARGV[1] .. ids[i] .. '}'
  local meta = redis.call('HGETALL', b .. ':meta')
  local newest = redis.call('ZRANGE', b .. ':seq', -1, -1, 'WITHSCORES')
  local rec = ''
  if #newest > 0 then rec = redis.call('HGET', b .. ':msg', newest[1]) end
  local at = redis.call('HGET', b .. ':rd', ARGV[2]) or '0'
  out[#out + 1] = { meta, newest, rec, redis.call('ZCOUNT', b .. ':seq', '(' .. at, '+inf') }
end
return out
`;

// KEYS: meta, order (visible), read pointers. ARGV: user id, message id. → { meta (HGETALL), unread } or nil.
const MARK_READ = `
local seq = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not seq then return false end
local to = tonumber(seq)
local at = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if to > at then
  redis.call('HSET', KEYS[3], ARGV[1], seq)
  at = to
end
return { redis.call('HGETALL', KEYS[1]), redis.call('ZCOUNT', KEYS[2], '(' .. at, '+inf') }
`;

// KEYS: meta, order (visible), read pointers. ARGV: user id. → { meta (HGETALL), unread }.
const READ_UNREAD = `
local at = redis.call('HGET', KEYS[3], ARGV[1]) or '0'
return { redis.call('HGETALL', KEYS[1]), redis.call('ZCOUNT', KEYS[2], '(' .. at, '+inf') }
`;

interface Scripted extends Redis {
  floorListChats(inbox: string, prefix: string, userId: string, limit: number): Promise<[string[], string[], string, number][]>;
  floorMarkRead(meta: string, order: string, reads: string, userId: string, messageId: string): Promise<[string[], number] | null>;
  floorReadUnread(meta: string, order: string, reads: string, userId: string): Promise<[string[], number]>;
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

/** HGETALL's flat list as an object. */
function flat(list: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) o[list[i]] = list[i + 1];
  return o;
}

/** A thread record (src/store/record.ts META) with its times as stored (19-digit strings, not RFC 3339). */
function toThread(meta: string[], unread: number): Thread {
  const f = flat(meta);
  return {
    id: f.id ?? '',
    groupId: f.g ?? '',
    topic: f.t ?? '',
    createdAt: f.c ?? '',
    metadata: {},
    lastMessageAt: f.l ?? '',
    messageCount: f.n ?? '0',
    updatedAt: f.ua ?? f.c ?? '',
    unreadCount: String(unread),
    createdBy: '',
    parentThreadId: '',
    parentMessageId: '',
    deletedAt: '',
    participants: [],
  };
}

export class FloorStore {
  private constructor(
    private readonly redis: Scripted,
    private readonly ns: string,
  ) {}

  /** ioredis with auto-pipelining on the same light pipelines as the service's store (src/store/light-pipelines.ts); each script is sent by EVALSHA. */
  static async connect(url: string, ns: string): Promise<FloorStore> {
    const r = lightPipelines(new Redis(url, { enableAutoPipelining: true, lazyConnect: true }));
    r.defineCommand('floorCreateMessage', { numberOfKeys: 3, lua: CREATE_MESSAGE });
    r.defineCommand('floorReadLatest', { lua: READ_LATEST });
    r.defineCommand('floorChat', { numberOfKeys: 1, lua: CHAT });
    r.defineCommand('floorUpdateMessage', { numberOfKeys: 3, lua: UPDATE_MESSAGE });
    r.defineCommand('floorDeleteMessage', { numberOfKeys: 4, lua: DELETE_MESSAGE });
    r.defineCommand('floorListChats', { numberOfKeys: 1, lua: LIST_CHATS });
    r.defineCommand('floorMarkRead', { numberOfKeys: 3, lua: MARK_READ });
    r.defineCommand('floorReadUnread', { numberOfKeys: 3, lua: READ_UNREAD });
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

  /**
   * A user's newest `limit` chats with their last message and the user's unread count (ListChats),
   * from one script. Times and the last message's record are as stored (the record not decoded: its
   * JSON is the text), as the other storage floors answer.
   */
  async listChats(userId: string, limit: number): Promise<Chat[]> {
    const rows = await this.redis.floorListChats(`pl1:{${this.ns}:u:${userId}}:chats`, `pl1:{${this.ns}:c:`, userId, limit || 25);
    return rows.map(([meta, newest, rec, unread]) => {
      const f = flat(meta);
      const id = f.id ?? '';
      return {
        id,
        userIds: f.u ? (JSON.parse(f.u) as string[]) : [],
        createdAt: f.c ?? '0',
        metadata: {},
        lastMessageAt: f.l ?? '0',
        messageCount: f.n ?? '0',
        updatedAt: f.ua ?? f.c ?? '0',
        unreadCount: String(unread),
        lastMessage: newest.length ? { id: newest[0], authorId: '', chatId: id, text: rec, sentAt: '', seq: newest[1], metadata: {}, editedAt: '', deletedAt: '' } : undefined,
      };
    });
  }

  /** MarkRead of a thread: null when the message is not in it. The thread as stored, with the user's unread count. */
  async markRead(threadId: string, userId: string, messageId: string): Promise<Thread | null> {
    const b = this.threadBase(threadId);
    const r = await this.redis.floorMarkRead(`${b}:meta`, `${b}:seq`, `${b}:rd`, userId, messageId);
    return r ? toThread(r[0], r[1]) : null;
  }

  /** ReadThread with user_id: the thread as stored, with the user's unread count. */
  async readUnread(threadId: string, userId: string): Promise<Thread> {
    const b = this.threadBase(threadId);
    const r = await this.redis.floorReadUnread(`${b}:meta`, `${b}:seq`, `${b}:rd`, userId);
    return toThread(r[0], r[1]);
  }

  disconnect(): void {
    this.redis.disconnect();
  }
}
