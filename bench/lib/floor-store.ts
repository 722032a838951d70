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

interface Scripted extends Redis {
  floorCreateMessage(meta: string, order: string, bodies: string, id: string, body: string): Promise<[number, number, number]>;
  /** Flat: ids-with-scores, bodies, ids-with-scores, bodies, … */
  floorReadLatest(numKeys: number, ...args: (string | number)[]): Promise<(string | null)[][]>;
  floorChat(key: string, id: string, users: string): Promise<[string, string]>;
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

  disconnect(): void {
    this.redis.disconnect();
  }
}
