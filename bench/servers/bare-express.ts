/**
 * The HTTP floors, all Express 5 like the service's JSON transport.
 *
 *   BENCH_MODE=fixed    a bare Express app: parses the JSON body, answers fixed JSON
 *                       of the same shape as the service's answer.
 *   BENCH_MODE=storage  the in-process JSON floor: Express parses the JSON body, the
 *                       fields are taken by hand, ONE EVALSHA of the storage floor's
 *                       minimal script (lib/floor-store.ts, the same Redis work as
 *                       bare-grpc.ts BENCH_MODE=storage), the reply written as JSON by
 *                       hand; one process, no gRPC. The floor of the service's own
 *                       HTTP port (what `make start` runs).
 *   BENCH_MODE=hop      Express → grpc-js → GRPC_TARGET (the bare gRPC storage floor):
 *                       the body mapped by hand to the request message, one unary call
 *                       with the authorization header as metadata, the reply mapped
 *                       by hand to JSON. The hop floor (gateway floor): the floor of
 *                       the remote gateway process.
 *
 * Env: PORT, BENCH_MODE, GRPC_TARGET (hop), REDIS_URL and BENCH_NS (storage).
 */
import express, { type Request, type Response } from 'express';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { ChatsService, type Chat } from '../../test/gen/chats/chats';
import { ThreadsService, type Message } from '../../test/gen/threads/threads';
import { FloorStore } from '../lib/floor-store';
import { FAKE_CHAT, FAKE_THREAD_ID, LIST_LIMIT, RECENT_PER_THREAD, RECENT_THREADS, fakeMessage, messageJson, PATHS, type Method } from '../lib/shapes';

const mode = process.env.BENCH_MODE ?? 'fixed';
const port = Number(process.env.PORT ?? 0);

const chatJson = (c: Chat) => ({ id: c.id, user_ids: c.userIds, created_at: c.createdAt });
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const int = (v: unknown) => (typeof v === 'number' || typeof v === 'string' ? String(v) : '0');

const chatOut = (c: Chat) => JSON.stringify({ chat: chatJson(c) });
const messagesOut = (ms: Message[]) => JSON.stringify({ messages: ms.map(messageJson) });

/** Resolves when the server may listen (the storage floor connects to Redis first). */
let ready: Promise<void> = Promise.resolve();

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(express.json({ type: () => true }));

if (mode === 'fixed') {
  const fixed: Record<Method, string> = {
    CreateMessage: JSON.stringify({ message: messageJson(fakeMessage(FAKE_THREAD_ID, 100001)) }),
    ListMessages: JSON.stringify({ messages: Array.from({ length: LIST_LIMIT }, (_, i) => messageJson(fakeMessage(FAKE_THREAD_ID, 100000 - i))) }),
    RecentMessages: JSON.stringify({
      messages: Array.from({ length: RECENT_THREADS * RECENT_PER_THREAD }, (_, i) => messageJson(fakeMessage(FAKE_THREAD_ID, 100 - (i % RECENT_PER_THREAD)))),
    }),
    CreateChat: JSON.stringify({ chat: chatJson(FAKE_CHAT) }),
  };
  for (const m of Object.keys(fixed) as Method[]) {
    app.post(PATHS[m].http, (_req: Request, res: Response) => {
      res.status(200).type('application/json').send(fixed[m]);
    });
  }
} else if (mode === 'storage') {
  // Connected before the server listens (below), so the handlers use it directly.
  let store: FloorStore;
  ready = FloorStore.connect(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', process.env.BENCH_NS ?? 'default').then((s) => {
    store = s;
  });
  const fail = (res: Response) => (err: Error) => void res.status(500).json({ error: err.message });
  const ok = (res: Response, json: string) => void res.status(200).type('application/json').send(json);
  app.post(PATHS.CreateMessage.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    store.createMessage(str(b.thread_id), str(b.author_id), str(b.text)).then((m) => ok(res, JSON.stringify({ message: messageJson(m) })), fail(res));
  });
  app.post(PATHS.ListMessages.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    store.listMessages(str(b.thread_id), Number(b.limit) || 0).then((ms) => ok(res, messagesOut(ms)), fail(res));
  });
  app.post(PATHS.RecentMessages.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    const ids = Array.isArray(b.thread_ids) ? b.thread_ids.map(str) : [];
    store.recentMessages(ids, Number(b.limit_per_thread) || 0).then((ms) => ok(res, messagesOut(ms)), fail(res));
  });
  app.post(PATHS.CreateChat.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    const users = Array.isArray(b.user_ids) ? b.user_ids.map(str) : [];
    store.createChat(users).then((c) => ok(res, chatOut(c)), fail(res));
  });
} else {
  const client = new Client(process.env.GRPC_TARGET ?? '127.0.0.1:50051', credentials.createInsecure());
  const call = <Req, Res>(
    def: { path: string; requestSerialize: (r: Req) => Buffer; responseDeserialize: (b: Buffer) => Res },
    req: Request,
    res: Response,
    request: Req,
    toJson: (r: Res) => unknown,
  ) => {
    const md = new Metadata();
    const auth = req.headers.authorization;
    if (auth) md.set('authorization', auth);
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, md, (err: ServiceError | null, reply?: Res) => {
      if (err || reply === undefined) {
        res.status(500).json({ error: err?.details ?? 'no reply' });
        return;
      }
      res.status(200).type('application/json').send(JSON.stringify(toJson(reply)));
    });
  };
  const messagesJson = (r: { messages: Message[] }) => ({ messages: r.messages.map(messageJson) });
  app.post(PATHS.CreateMessage.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    call(ThreadsService.createMessage, req, res, { id: str(b.id), threadId: str(b.thread_id), authorId: str(b.author_id), text: str(b.text), metadata: {} }, (r) => ({
      message: r.message ? messageJson(r.message) : null,
    }));
  });
  app.post(PATHS.ListMessages.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    call(ThreadsService.listMessages, req, res, { threadId: str(b.thread_id), limit: int(b.limit), offset: int(b.offset), order: str(b.order), after: '', before: '', includeDeleted: '' }, messagesJson);
  });
  app.post(PATHS.RecentMessages.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    const ids = Array.isArray(b.thread_ids) ? b.thread_ids.map(str) : [];
    call(ThreadsService.recentMessages, req, res, { threadIds: ids, limitPerThread: int(b.limit_per_thread), groupId: str(b.group_id), includeDeleted: '' }, messagesJson);
  });
  app.post(PATHS.CreateChat.http, (req, res) => {
    const b = req.body as Record<string, unknown>;
    const users = Array.isArray(b.user_ids) ? b.user_ids.map(str) : [];
    call(ChatsService.createChat, req, res, { userIds: users, id: str(b.id), metadata: {} }, (r) => ({ chat: r.chat ? chatJson(r.chat) : null }));
  });
}

let server: ReturnType<typeof app.listen> | undefined;
ready.then(
  () => {
    const s = app.listen(port, '127.0.0.1', () => {
      const addr = s.address();
      process.stdout.write(JSON.stringify({ msg: 'bare express listening', mode, port: typeof addr === 'object' && addr ? addr.port : port }) + '\n');
    });
    server = s;
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
const stop = () => {
  server?.closeAllConnections();
  server?.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
