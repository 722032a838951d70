/**
 * A bounded soak: the built service (its own process, over an external Redis
 * with the service's persistence flags) and the built gateway (its own
 * process), with several clients — half over gRPC, half over HTTP — doing
 * mixed calls for SOAK_SECONDS (default 10, so `make test` stays quick;
 * `make test-soak` runs 180): create threads, chats and conversations, post
 * messages with client ids (and repeat some), list, recent, read.
 *
 * Afterwards: no error at all (rate limits are off by default, so not even a
 * rate-limit answer); the service's heap did not grow beyond a bound between
 * warm-up and the end; Redis memory grew no more than the data written
 * allows; every acknowledged message is read back, once, with its text; the
 * store is consistent.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { clients, type Clients } from '../helpers/grpc';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway';
import { send } from '../helpers/http';
import { storeProblems } from '../helpers/invariants';
import { startService as startProcess, type ServiceProcess } from '../helpers/process';
import { startRedis, type TestRedis } from '../helpers/redis';
import { TEST_TOKEN } from '../helpers/service';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 10);
const GRPC_CLIENTS = 4;
const HTTP_CLIENTS = 4;
/** Heap samples: after this warm-up (a third of the run, at most 30 s), and at the end. */
const WARMUP_MS = Math.min(30_000, (SOAK_SECONDS * 1000) / 3);
const HEAP_GROWTH_BOUND = 50 * 1024 * 1024;
/** Redis may hold each message's JSON up to this many times over (order zset, body hash, encodings), plus a fixed allowance. */
const REDIS_FACTOR = 3;
const REDIS_ALLOWANCE = 4 * 1024 * 1024;
/** At most this many containers of each kind per client, so the final read-back stays bounded. */
const MAX_CONTAINERS = 12;
const CALL_TIMEOUT_MS = 10_000;

type Kind = 'thread' | 'chat' | 'conv';
interface Msg {
  id: string;
  text: string;
  seq?: string;
}
interface Container {
  kind: Kind;
  id: string;
  group: string;
  /** Acknowledged messages by id, in acknowledgement order. */
  acked: Map<string, Msg>;
}

/** The calls a soak client makes, over gRPC or through the gateway. Lists are newest first. */
interface Api {
  via: 'grpc' | 'http';
  create(kind: Kind, group: string, users: string[]): Promise<string>;
  post(c: Container, id: string, author: string, text: string): Promise<Msg>;
  list(c: Container, limit: number): Promise<Msg[]>;
  recent(kind: 'thread' | 'conv', ids: string[], perContainer: number): Promise<Msg[]>;
  read(c: Container): Promise<string>;
  containers(kind: 'thread' | 'conv', group: string): Promise<string[]>;
}

function grpcApi(c: Clients): Api {
  const deadline = () => ({ deadline: Date.now() + CALL_TIMEOUT_MS });
  const msg = (m: { id: string; text: string; seq: string } | undefined): Msg => ({ id: m!.id, text: m!.text, seq: m!.seq });
  return {
    via: 'grpc',
    async create(kind, group, users) {
      if (kind === 'thread') return (await c.threads.createThread({ groupId: group, topic: `soak ${group}` }, undefined, deadline())).thread!.id;
      if (kind === 'chat') return (await c.chats.createChat({ userIds: users }, undefined, deadline())).chat!.id;
      return (await c.streams.createConversation({ groupId: group, topic: `soak ${group}` }, undefined, deadline())).conversation!.id;
    },
    async post(ct, id, authorId, text) {
      if (ct.kind === 'thread') return msg((await c.threads.createMessage({ threadId: ct.id, id, authorId, text }, undefined, deadline())).message);
      if (ct.kind === 'chat') return msg((await c.chats.sendMessage({ chatId: ct.id, id, authorId, text }, undefined, deadline())).message);
      return msg((await c.streams.createMessage({ conversationId: ct.id, id, authorId, text }, undefined, deadline())).message);
    },
    async list(ct, limit) {
      if (ct.kind === 'thread') return (await c.threads.listMessages({ threadId: ct.id, limit: String(limit) }, undefined, deadline())).messages.map(msg);
      if (ct.kind === 'chat') return (await c.chats.listMessages({ chatId: ct.id, limit: String(limit) }, undefined, deadline())).messages.map(msg);
      return (await c.streams.listMessages({ conversationId: ct.id, limit }, undefined, deadline())).messages.map(msg);
    },
    async recent(kind, ids, per) {
      if (kind === 'thread') return (await c.threads.recentMessages({ threadIds: ids, limitPerThread: String(per) }, undefined, deadline())).messages.map(msg);
      return (await c.streams.recentMessages({ conversationIds: ids, limitPerConversation: per }, undefined, deadline())).messages.map(msg);
    },
    async read(ct) {
      if (ct.kind === 'thread') return (await c.threads.readThread({ id: ct.id, groupId: ct.group }, undefined, deadline())).thread!.id;
      return (await c.streams.readConversation({ id: ct.id, groupId: ct.group }, undefined, deadline())).conversation!.id;
    },
    async containers(kind, group) {
      if (kind === 'thread') return (await c.threads.listThreads({ groupId: group, limit: '100' }, undefined, deadline())).threads.map((t) => t.id);
      return (await c.streams.listConversations({ groupId: group, limit: 100 }, undefined, deadline())).conversations.map((t) => t.id);
    },
  };
}

/** An HTTP answer other than 200, as an error the soak records. */
class HttpFailure extends Error {
  constructor(readonly status: number, readonly id: string | undefined, text: string) {
    super(`HTTP ${status} ${text.slice(0, 200)}`);
  }
}

function httpApi(url: string): Api {
  const headers = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const call = async (path: string, body: unknown): Promise<any> => {
    const a = await send(url, path, { body: JSON.stringify(body), headers, timeoutMs: CALL_TIMEOUT_MS });
    if (a.status !== 200) throw new HttpFailure(a.status, a.body?.id, a.text);
    return a.body;
  };
  const msg = (m: { id: string; text: string; seq?: string }): Msg => ({ id: m.id, text: m.text, seq: m.seq });
  return {
    via: 'http',
    async create(kind, group, users) {
      if (kind === 'thread') return (await call('/threads/Threads/CreateThread', { group_id: group, topic: `soak ${group}` })).thread.id;
      if (kind === 'chat') return (await call('/chats/Chats/CreateChat', { user_ids: users })).chat.id;
      return (await call('/streams/Streams/CreateConversation', { group_id: group, topic: `soak ${group}` })).conversation.id;
    },
    async post(ct, id, author_id, text) {
      if (ct.kind === 'thread') return msg((await call('/threads/Threads/CreateMessage', { thread_id: ct.id, id, author_id, text })).message);
      if (ct.kind === 'chat') return msg((await call('/chats/Chats/SendMessage', { chat_id: ct.id, id, author_id, text })).message);
      return msg((await call('/streams/Streams/CreateMessage', { conversation_id: ct.id, id, author_id, text })).message);
    },
    async list(ct, limit) {
      const path = { thread: '/threads/Threads/ListMessages', chat: '/chats/Chats/ListMessages', conv: '/streams/Streams/ListMessages' }[ct.kind];
      const key = { thread: 'thread_id', chat: 'chat_id', conv: 'conversation_id' }[ct.kind];
      return (await call(path, { [key]: ct.id, limit })).messages.map(msg);
    },
    async recent(kind, ids, per) {
      if (kind === 'thread') return (await call('/threads/Threads/RecentMessages', { thread_ids: ids, limit_per_thread: per })).messages.map(msg);
      return (await call('/streams/Streams/RecentMessages', { conversation_ids: ids, limit_per_conversation: per })).messages.map(msg);
    },
    async read(ct) {
      if (ct.kind === 'thread') return (await call('/threads/Threads/ReadThread', { id: ct.id, group_id: ct.group })).thread.id;
      return (await call('/streams/Streams/ReadConversation', { id: ct.id, group_id: ct.group })).conversation.id;
    },
    async containers(kind, group) {
      if (kind === 'thread') return (await call('/threads/Threads/ListThreads', { group_id: group, limit: 100 })).threads.map((t: { id: string }) => t.id);
      return (await call('/streams/Streams/ListConversations', { group_id: group, limit: 100 })).conversations.map((t: { id: string }) => t.id);
    },
  };
}

/** A small seeded PRNG (mulberry32), so a client's sequence of calls can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Stats {
  calls: number;
  errors: string[];
  rateLimited: number;
  /** UTF-8 bytes of the JSON of every message acknowledged (once per id). */
  bytesWritten: number;
  containers: Container[];
}

/** One client: its own group and containers, so every message it lists must be one it was acknowledged. */
async function runClient(name: string, api: Api, seed: number, endAt: number, stats: Stats): Promise<void> {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const group = `soak-${name}`;
  const mine: Container[] = [];
  let counter = 0;
  let chats = 0;

  const record = (what: string, e: unknown) => {
    const code = (e as ServiceError).code;
    if ((api.via === 'grpc' && code === status.RESOURCE_EXHAUSTED) || (e instanceof HttpFailure && e.status === 429)) stats.rateLimited++;
    else stats.errors.push(`${name} ${what}: ${e instanceof Error ? e.message : String(e)}`);
  };
  const create = async (kind: Kind) => {
    const users = [`${name}-a${chats}`, `${name}-b${chats++}`];
    const id = await api.create(kind, group, users);
    const c: Container = { kind, id, group, acked: new Map() };
    mine.push(c);
    stats.containers.push(c);
  };
  const check = (cond: boolean, what: string) => {
    if (!cond) stats.errors.push(`${name}: ${what}`);
  };

  for (const kind of ['thread', 'chat', 'conv'] as const) await create(kind);
  while (Date.now() < endAt) {
    const r = rnd();
    const c = pick(mine);
    stats.calls++;
    try {
      if (r < 0.5) {
        // A new message with a client id, 20 to 600 bytes of text.
        const id = `${name}-m${counter++}`;
        const text = `${id} ` + 'abcdefghijklmnopqrstuvwxyz é😀'.repeat(1 + Math.floor(rnd() * 20));
        const m = await api.post(c, id, name, text);
        check(m.id === id && m.text === text, `post ${id} answered ${m.id}`);
        c.acked.set(id, { id, text, seq: m.seq });
        const key = { thread: 'thread_id', chat: 'chat_id', conv: 'conversation_id' }[c.kind];
        stats.bytesWritten += Buffer.byteLength(JSON.stringify({ id, [key]: c.id, author_id: name, text }));
      } else if (r < 0.56 && c.acked.size > 0) {
        // A repeat of an acknowledged id (a retry) with another text: the stored message, unchanged.
        const old = pick([...c.acked.values()]);
        const m = await api.post(c, old.id, name, 'a different text');
        check(m.id === old.id && m.text === old.text, `repeat of ${old.id} answered ${m.id} ${m.text.slice(0, 20)}`);
      } else if (r < 0.72) {
        const limit = 1 + Math.floor(rnd() * 30);
        const page = await api.list(c, limit);
        check(page.length === Math.min(limit, c.acked.size), `list of ${c.kind} ${c.id}: ${page.length} messages, expected ${Math.min(limit, c.acked.size)}`);
        for (const m of page) check(c.acked.get(m.id)?.text === m.text, `list of ${c.kind} ${c.id} has ${m.id}, not acknowledged as such`);
      } else if (r < 0.82) {
        const kind = pick(['thread', 'conv'] as const);
        const of = mine.filter((x) => x.kind === kind);
        const msgs = await api.recent(kind, of.map((x) => x.id), 3);
        const expected = of.reduce((n, x) => n + Math.min(3, x.acked.size), 0);
        check(msgs.length === expected, `recent ${kind}: ${msgs.length} messages, expected ${expected}`);
      } else if (r < 0.9) {
        const x = pick(mine.filter((y) => y.kind !== 'chat'));
        check((await api.read(x)) === x.id, `read ${x.kind} ${x.id}`);
      } else if (r < 0.96) {
        const kind = pick(['thread', 'conv'] as const);
        const listed = new Set(await api.containers(kind, group));
        const of = mine.filter((x) => x.kind === kind);
        check(of.every((x) => listed.has(x.id)) && listed.size === of.length, `list ${kind}s of ${group}: ${listed.size}, expected ${of.length}`);
      } else {
        const kind = pick(['thread', 'chat', 'conv'] as const);
        if (mine.filter((x) => x.kind === kind).length < MAX_CONTAINERS) await create(kind);
      }
    } catch (e) {
      record(`call ${stats.calls}`, e);
    }
  }
}

/** Every message of a container, oldest first, through the gateway (streams page back with sent_before). */
async function readAll(url: string, c: Container): Promise<Msg[]> {
  const headers = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const call = async (path: string, body: unknown): Promise<any> => {
    const a = await send(url, path, { body: JSON.stringify(body), headers, timeoutMs: CALL_TIMEOUT_MS });
    if (a.status !== 200) throw new Error(`${path}: ${a.status} ${a.text}`);
    return a.body;
  };
  const out: Msg[] = [];
  if (c.kind === 'conv') {
    let before: string | undefined;
    for (;;) {
      const page: { id: string; text: string; sent_at: string; seq: string }[] = (
        await call('/streams/Streams/ListMessages', { conversation_id: c.id, limit: 1000, ...(before ? { sent_before: before } : {}) })
      ).messages;
      if (page.length === 0) break;
      out.push(...page.map((m) => ({ id: m.id, text: m.text, seq: m.seq })));
      before = page[page.length - 1].sent_at;
    }
    return out.reverse();
  }
  const [path, key] = c.kind === 'thread' ? ['/threads/Threads/ListMessages', 'thread_id'] : ['/chats/Chats/ListMessages', 'chat_id'];
  for (let offset = 0; ; offset += 1000) {
    const page: { id: string; text: string; seq: string }[] = (await call(path, { [key]: c.id, order: 'asc', limit: 1000, offset })).messages;
    if (page.length === 0) break;
    out.push(...page.map((m) => ({ id: m.id, text: m.text, seq: m.seq })));
  }
  return out;
}

/**
 * The heap the service holds rather than the garbage it has not collected yet: the lowest of samples
 * taken over `seconds` (under load the collector runs between them; once the load stops, V8's memory
 * reducer runs a full collection within a few seconds of the allocation rate dropping).
 */
async function settledHeap(metricsPort: number, seconds: number): Promise<number> {
  const samples: number[] = [];
  for (let t = 0; t < seconds * 1000; t += 500) {
    samples.push(await heapUsed(metricsPort));
    await new Promise((r) => setTimeout(r, 500));
  }
  return Math.min(...samples);
}

async function heapUsed(metricsPort: number): Promise<number> {
  const a = await send(`http://127.0.0.1:${metricsPort}`, '/metrics', { method: 'GET', timeoutMs: 5000 });
  const m = /^parley_nodejs_heap_size_used_bytes (\S+)$/m.exec(a.text);
  if (!m) throw new Error(`no parley_nodejs_heap_size_used_bytes in /metrics:\n${a.text.slice(0, 500)}`);
  return Number(m[1]);
}

async function redisUsedMemory(redis: TestRedis): Promise<number> {
  const info = await redis.client().info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}

let redis: TestRedis | undefined;
let svc: ServiceProcess | undefined;
let gw: SpawnedGateway | undefined;
let grpcClients: Clients[] = [];

afterAll(async () => {
  grpcClients.forEach((c) => c.close());
  await gw?.kill();
  if (svc && svc.child.exitCode === null && svc.child.signalCode === null) svc.child.kill('SIGKILL');
  await redis?.stop();
});

it(`${SOAK_SECONDS} s of mixed calls from ${GRPC_CLIENTS} gRPC and ${HTTP_CLIENTS} HTTP clients: no errors, bounded memory, everything read back`, async () => {
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'everysec']);
  svc = await startProcess({
    REDIS_URL: redis.url,
    API_KEYS: `default:${TEST_TOKEN}`,
    HOST: '127.0.0.1',
    GRPC_PORT: '0',
    METRICS_PORT: '0',
    DATA_DIR: redis.dir,
  });
  const metricsPort = svc.logs.find((l) => l.msg === 'metrics at /metrics')!.port as number;
  gw = await spawnGateway({ GRPC_TARGET: `127.0.0.1:${svc.port}` });
  grpcClients = Array.from({ length: GRPC_CLIENTS }, () => clients(`127.0.0.1:${svc!.port}`, TEST_TOKEN));
  const redisBefore = await redisUsedMemory(redis);

  const stats: Stats = { calls: 0, errors: [], rateLimited: 0, bytesWritten: 0, containers: [] };
  const started = Date.now();
  const endAt = started + SOAK_SECONDS * 1000;
  // HTTP clients alternate between the service's own HTTP port (in-process, as `make start`) and the remote gateway.
  const inProcessUrl = `http://127.0.0.1:${svc.httpPort}`;
  const apis = [...grpcClients.map(grpcApi), ...Array.from({ length: HTTP_CLIENTS }, (_, i) => httpApi(i % 2 ? gw!.url : inProcessUrl))];
  const load = Promise.all(apis.map((api, i) => runClient(`${api.via}${i}`, api, 1000 + i, endAt, stats)));

  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const heapAfterWarmup = await settledHeap(metricsPort, 1.5);
  await load;
  const heapAtEnd = await settledHeap(metricsPort, 6);
  const redisAfter = await redisUsedMemory(redis);

  // No error at all (a rate-limit answer would be allowed, but rate limits are off by default).
  expect(stats.errors.slice(0, 20)).toEqual([]);
  expect(stats.rateLimited).toBe(0);
  expect(stats.calls).toBeGreaterThan(SOAK_SECONDS * 20);

  // The service's heap after warm-up did not grow beyond the bound.
  expect(heapAtEnd - heapAfterWarmup).toBeLessThan(HEAP_GROWTH_BOUND);
  // Redis grew no more than the data written allows.
  expect(redisAfter - redisBefore).toBeLessThanOrEqual(REDIS_FACTOR * stats.bytesWritten + REDIS_ALLOWANCE);

  // Every acknowledged message is stored once, with its text; seq 1..n in order for threads and chats.
  let total = 0;
  for (const c of stats.containers) {
    const stored = await readAll(gw.url, c);
    total += stored.length;
    expect({ c: `${c.kind} ${c.id}`, ids: stored.map((m) => m.id).sort() }).toEqual({ c: `${c.kind} ${c.id}`, ids: [...c.acked.keys()].sort() });
    for (const m of stored) expect(m.text).toBe(c.acked.get(m.id)!.text);
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => String(i + 1)));
    // Each client wrote its containers one message at a time: stored order is acknowledgement order.
    expect(stored.map((m) => m.id)).toEqual([...c.acked.keys()]);
  }
  expect(total).toBe(stats.containers.reduce((n, c) => n + c.acked.size, 0));
  expect(await storeProblems(redis.client())).toEqual([]);

  // Both processes are still up, and stop cleanly.
  expect((await send(gw.url, '/healthz', { method: 'GET', timeoutMs: 5000 })).status).toBe(200);
  expect((await send(inProcessUrl, '/healthz', { method: 'GET', timeoutMs: 5000 })).status).toBe(200);
  grpcClients.forEach((c) => c.close());
  grpcClients = [];
  gw.child.kill('SIGTERM');
  expect(await gw.exited).toBe(0);
  expect(await svc.stop()).toBe(0);

  // eslint-disable-next-line no-console
  if (process.env.SOAK_REPORT) console.log(JSON.stringify({ seconds: SOAK_SECONDS, calls: stats.calls, messages: total, containers: stats.containers.length, bytesWritten: stats.bytesWritten, redisGrowth: redisAfter - redisBefore, heapAfterWarmup, heapAtEnd }));
}, (SOAK_SECONDS + 90) * 1000);
