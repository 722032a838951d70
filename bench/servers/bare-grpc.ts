/**
 * The gRPC floors: a bare grpc-js server with the service's method names and
 * message types, and nothing else (no auth, no validation, no logging).
 *
 *   BENCH_MODE=fixed    answers a fixed reply of the same shape (transport floor)
 *   BENCH_MODE=storage  does one EVALSHA of a minimal script per call (storage floor):
 *     CreateMessage   next seq, ZADD id, HSET body — into its own keys (bfl:…)
 *     ListMessages    ZRANGE + HMGET of the real thread's keys (the same reads as the service)
 *     RecentMessages  the same for every listed thread, all in one script
 *     CreateChat      one hash per user set (sha256 of the sorted ids): read it or create it
 *
 * Env: PORT, BENCH_MODE, REDIS_URL (storage), BENCH_NS (the namespace in the real keys).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { ChatsService, type CreateChatRequest, type CreateChatResponse } from '../../test/gen/chats/chats';
import {
  ThreadsService,
  type CreateMessageRequest,
  type CreateMessageResponse,
  type ListMessagesRequest,
  type ListMessagesResponse,
  type Message,
  type RecentMessagesRequest,
  type RecentMessagesResponse,
} from '../../test/gen/threads/threads';
import { FAKE_CHAT, FAKE_THREAD_ID, LIST_LIMIT, RECENT_PER_THREAD, RECENT_THREADS, fakeMessage } from '../lib/shapes';

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

interface Floor extends Redis {
  floorCreateMessage(meta: string, order: string, bodies: string, id: string, body: string): Promise<[number, number, number]>;
  /** Flat: ids-with-scores, bodies, ids-with-scores, bodies, … */
  floorReadLatest(numKeys: number, ...args: (string | number)[]): Promise<(string | null)[][]>;
  floorChat(key: string, id: string, users: string): Promise<[string, string]>;
}

const mode = process.env.BENCH_MODE ?? 'fixed';
const ns = process.env.BENCH_NS ?? 'default';
const port = Number(process.env.PORT ?? 0);

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void;

function fixedHandlers(): { threads: UntypedServiceImplementation; chats: UntypedServiceImplementation } {
  const create: CreateMessageResponse = { message: fakeMessage(FAKE_THREAD_ID, 100001) };
  const list: ListMessagesResponse = { messages: Array.from({ length: LIST_LIMIT }, (_, i) => fakeMessage(FAKE_THREAD_ID, 100000 - i)) };
  const recent: RecentMessagesResponse = {
    messages: Array.from({ length: RECENT_THREADS * RECENT_PER_THREAD }, (_, i) => fakeMessage(FAKE_THREAD_ID, 100 - (i % RECENT_PER_THREAD))),
  };
  const chat: CreateChatResponse = { chat: FAKE_CHAT };
  const createMessage: Handler<CreateMessageRequest, CreateMessageResponse> = (_c, cb) => cb(null, create);
  const listMessages: Handler<ListMessagesRequest, ListMessagesResponse> = (_c, cb) => cb(null, list);
  const recentMessages: Handler<RecentMessagesRequest, RecentMessagesResponse> = (_c, cb) => cb(null, recent);
  const createChat: Handler<CreateChatRequest, CreateChatResponse> = (_c, cb) => cb(null, chat);
  return { threads: { createMessage, listMessages, recentMessages }, chats: { createChat } };
}

const threadBase = (id: string) => `pl1:{${ns}:t:${id}}`;

function storageHandlers(redis: Floor): { threads: UntypedServiceImplementation; chats: UntypedServiceImplementation } {
  const fail = (cb: sendUnaryData<never>) => (err: Error) => cb({ code: 13, details: err.message, name: 'Error', message: err.message, metadata: undefined as never });

  const createMessage: Handler<CreateMessageRequest, CreateMessageResponse> = (call, cb) => {
    const req = call.request;
    const id = randomUUID();
    const base = `bfl:{${ns}:t:${req.threadId}}`;
    redis.floorCreateMessage(`${base}:meta`, `${base}:seq`, `${base}:msg`, id, JSON.stringify([req.authorId, req.text])).then(([seq, sec, usec]) => {
      const sentAt = new Date(sec * 1000 + usec / 1000).toISOString();
      cb(null, { message: { id, authorId: req.authorId, threadId: req.threadId, text: req.text, sentAt, seq: String(seq) } });
    }, fail(cb));
  };

  /** Stored bodies are "<sent_at>|<json>": the floor does not decode them. */
  const toMessages = (threadId: string, page: string[], bodies: (string | null)[], out: Message[]) => {
    for (let i = bodies.length - 1; i >= 0; i--) {
      const body = bodies[i] ?? '';
      const bar = body.indexOf('|');
      out.push({ id: page[2 * i], authorId: '', threadId, text: body.slice(bar + 1), sentAt: body.slice(0, bar), seq: page[2 * i + 1] });
    }
  };

  const listMessages: Handler<ListMessagesRequest, ListMessagesResponse> = (call, cb) => {
    const req = call.request;
    const b = threadBase(req.threadId);
    redis.floorReadLatest(2, `${b}:seq`, `${b}:msg`, Number(req.limit) || 25).then((r) => {
      const messages: Message[] = [];
      toMessages(req.threadId, r[0] as string[], r[1], messages);
      cb(null, { messages });
    }, fail(cb));
  };

  const recentMessages: Handler<RecentMessagesRequest, RecentMessagesResponse> = (call, cb) => {
    const req = call.request;
    const keys: string[] = [];
    for (const id of req.threadIds) keys.push(`${threadBase(id)}:seq`, `${threadBase(id)}:msg`);
    redis.floorReadLatest(keys.length, ...keys, Number(req.limitPerThread) || 25).then((r) => {
      const messages: Message[] = [];
      for (let i = 0; i < req.threadIds.length; i++) toMessages(req.threadIds[i], r[2 * i] as string[], r[2 * i + 1], messages);
      cb(null, { messages });
    }, fail(cb));
  };

  const createChat: Handler<CreateChatRequest, CreateChatResponse> = (call, cb) => {
    const users = [...new Set(call.request.userIds)].sort();
    const h = createHash('sha256');
    for (const u of users) h.update(`${Buffer.byteLength(u)}:${u}`);
    redis.floorChat(`bfl:{${ns}:cu:${h.digest('hex')}}`, randomUUID(), JSON.stringify(users)).then(([id, c]) => {
      cb(null, { chat: { id, userIds: users, createdAt: c } });
    }, fail(cb));
  };

  return { threads: { createMessage, listMessages, recentMessages }, chats: { createChat } };
}

async function main(): Promise<void> {
  let handlers;
  let redis: Floor | undefined;
  if (mode === 'storage') {
    const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true, lazyConnect: true });
    r.defineCommand('floorCreateMessage', { numberOfKeys: 3, lua: CREATE_MESSAGE });
    r.defineCommand('floorReadLatest', { lua: READ_LATEST });
    r.defineCommand('floorChat', { numberOfKeys: 1, lua: CHAT });
    await r.connect();
    redis = r as Floor;
    handlers = storageHandlers(redis);
  } else {
    handlers = fixedHandlers();
  }
  const server = new Server();
  server.addService(ThreadsService, handlers.threads);
  server.addService(ChatsService, handlers.chats);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  process.stdout.write(JSON.stringify({ msg: 'bare gRPC server listening', mode, port: bound }) + '\n');
  const stop = () => {
    server.forceShutdown();
    redis?.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
