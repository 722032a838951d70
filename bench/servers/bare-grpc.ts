/**
 * The gRPC floors: a bare grpc-js server with the service's method names and
 * message types, and nothing else (no auth, no validation, no logging).
 *
 *   BENCH_MODE=fixed    answers a fixed reply of the same shape (transport floor)
 *   BENCH_MODE=storage  does one EVALSHA of a minimal script per call (storage floor;
 *                       the scripts are in lib/floor-store.ts, shared with the in-process
 *                       JSON floor of bare-express.ts):
 *     CreateMessage   next seq, ZADD id, HSET body — into its own keys (bfl:…)
 *     ListMessages    ZRANGE + HMGET of the real thread's keys (the same reads as the service)
 *     RecentMessages  the same for every listed thread, all in one script
 *     CreateChat      one hash per user set (sha256 of the sorted ids): read it or create it
 *     UpdateMessage   HGET the record (+ ZSCORE), new text and edited time, HSET, XADD
 *     DeleteMessage   ZSCORE, HGET, ZREM + ZADD (visible → deleted zset), HSET, XADD
 *                     (both on the thread the request names: a thread filled for the floor)
 *     ListChats       ZREVRANGE of the user's inbox, then per chat HGETALL meta, ZRANGE -1 -1,
 *                     HGET the record, HGET the read pointer, ZCOUNT: all in one script
 *     MarkRead        ZSCORE, HGET the pointer, HSET (forward only), HGETALL meta, ZCOUNT
 *     ReadThread      (with user_id) HGETALL meta, HGET the pointer, ZCOUNT
 *                     (these three: storage mode only, on the real keys; issue 16)
 *
 * Env: PORT, BENCH_MODE, REDIS_URL (storage), BENCH_NS (the namespace in the real keys).
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { ChatsService, type CreateChatRequest, type CreateChatResponse, type ListChatsRequest, type ListChatsResponse } from '../../test/gen/chats/chats';
import {
  ThreadsService,
  type CreateMessageRequest,
  type CreateMessageResponse,
  type DeleteMessageRequest,
  type DeleteMessageResponse,
  type UpdateMessageRequest,
  type UpdateMessageResponse,
  type ListMessagesRequest,
  type ListMessagesResponse,
  type RecentMessagesRequest,
  type RecentMessagesResponse,
  type MarkReadRequest,
  type MarkReadResponse,
  type ReadThreadRequest,
  type ReadThreadResponse,
} from '../../test/gen/threads/threads';
import { FloorStore } from '../lib/floor-store';
import { FAKE_CHAT, FAKE_THREAD_ID, LIST_LIMIT, RECENT_PER_THREAD, RECENT_THREADS, fakeMessage } from '../lib/shapes';

const mode = process.env.BENCH_MODE ?? 'fixed';
const ns = process.env.BENCH_NS ?? 'default';
const port = Number(process.env.PORT ?? 0);

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void;

/** The floors answer no cursors (the service's cursors are part of what it costs). */
const NO_PAGE = { nextCursor: '', prevCursor: '', hasMore: false, feedCursor: '' };

function fixedHandlers(): { threads: UntypedServiceImplementation; chats: UntypedServiceImplementation } {
  const create: CreateMessageResponse = { message: fakeMessage(FAKE_THREAD_ID, 100001) };
  const list: ListMessagesResponse = { ...NO_PAGE, messages: Array.from({ length: LIST_LIMIT }, (_, i) => fakeMessage(FAKE_THREAD_ID, 100000 - i)) };
  const recent: RecentMessagesResponse = {
    messages: Array.from({ length: RECENT_THREADS * RECENT_PER_THREAD }, (_, i) => fakeMessage(FAKE_THREAD_ID, 100 - (i % RECENT_PER_THREAD))),
  };
  const chat: CreateChatResponse = { chat: FAKE_CHAT };
  const createMessage: Handler<CreateMessageRequest, CreateMessageResponse> = (_c, cb) => cb(null, create);
  const listMessages: Handler<ListMessagesRequest, ListMessagesResponse> = (_c, cb) => cb(null, list);
  const recentMessages: Handler<RecentMessagesRequest, RecentMessagesResponse> = (_c, cb) => cb(null, recent);
  const createChat: Handler<CreateChatRequest, CreateChatResponse> = (_c, cb) => cb(null, chat);
  const updated: UpdateMessageResponse = { message: { ...fakeMessage(FAKE_THREAD_ID, 100001), editedAt: '2026-11-23T16:40:02.123456789Z' } };
  const deleted: DeleteMessageResponse = { message: { ...fakeMessage(FAKE_THREAD_ID, 100001), text: '', deletedAt: '2026-11-23T16:40:02.123456789Z' } };
  const updateMessage: Handler<UpdateMessageRequest, UpdateMessageResponse> = (_c, cb) => cb(null, updated);
  const deleteMessage: Handler<DeleteMessageRequest, DeleteMessageResponse> = (_c, cb) => cb(null, deleted);
  return { threads: { createMessage, listMessages, recentMessages, updateMessage, deleteMessage }, chats: { createChat } };
}

function storageHandlers(store: FloorStore): { threads: UntypedServiceImplementation; chats: UntypedServiceImplementation } {
  const fail = (cb: sendUnaryData<never>) => (err: Error) => cb({ code: 13, details: err.message, name: 'Error', message: err.message, metadata: undefined as never });

  const createMessage: Handler<CreateMessageRequest, CreateMessageResponse> = (call, cb) => {
    const req = call.request;
    store.createMessage(req.threadId, req.authorId, req.text).then((message) => cb(null, { message }), fail(cb));
  };
  const listMessages: Handler<ListMessagesRequest, ListMessagesResponse> = (call, cb) => {
    const req = call.request;
    store.listMessages(req.threadId, Number(req.limit)).then((messages) => cb(null, { ...NO_PAGE, messages }), fail(cb));
  };
  const recentMessages: Handler<RecentMessagesRequest, RecentMessagesResponse> = (call, cb) => {
    const req = call.request;
    store.recentMessages(req.threadIds, Number(req.limitPerThread)).then((messages) => cb(null, { messages }), fail(cb));
  };
  const createChat: Handler<CreateChatRequest, CreateChatResponse> = (call, cb) => {
    store.createChat(call.request.userIds).then((chat) => cb(null, { chat }), fail(cb));
  };
  const notFound = (cb: sendUnaryData<never>) => cb({ code: 5, details: 'no such message', name: 'Error', message: 'no such message', metadata: undefined as never });
  const updateMessage: Handler<UpdateMessageRequest, UpdateMessageResponse> = (call, cb) => {
    const req = call.request;
    store.updateMessage(req.threadId, req.id, req.text).then((message) => (message ? cb(null, { message }) : notFound(cb as never)), fail(cb));
  };
  const deleteMessage: Handler<DeleteMessageRequest, DeleteMessageResponse> = (call, cb) => {
    const req = call.request;
    store.deleteMessage(req.threadId, req.id).then((message) => (message ? cb(null, { message }) : notFound(cb as never)), fail(cb));
  };
  const listChats: Handler<ListChatsRequest, ListChatsResponse> = (call, cb) => {
    const req = call.request;
    store.listChats(req.userId, Number(req.limit)).then((chats) => cb(null, { chats, nextCursor: '', prevCursor: '', hasMore: false }), fail(cb));
  };
  const markRead: Handler<MarkReadRequest, MarkReadResponse> = (call, cb) => {
    const req = call.request;
    store.markRead(req.threadId, req.userId, req.messageId).then((thread) => (thread ? cb(null, { thread }) : notFound(cb as never)), fail(cb));
  };
  const readThread: Handler<ReadThreadRequest, ReadThreadResponse> = (call, cb) => {
    const req = call.request;
    store.readUnread(req.id, req.userId).then((thread) => cb(null, { thread }), fail(cb));
  };
  return { threads: { createMessage, listMessages, recentMessages, updateMessage, deleteMessage, markRead, readThread }, chats: { createChat, listChats } };
}

async function main(): Promise<void> {
  let handlers;
  let store: FloorStore | undefined;
  if (mode === 'storage') {
    store = await FloorStore.connect(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', ns);
    handlers = storageHandlers(store);
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
    store?.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
