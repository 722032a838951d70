/**
 * Generated requests to every method over gRPC: whatever arrives, the answer
 * is a success or a documented INVALID_ARGUMENT / NOT_FOUND naming its field,
 * never INTERNAL, a crash or a hang; and afterwards the store is consistent.
 */
import fc from 'fast-check';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { reasonOf } from '../../src/transports/grpc/status';
import { ChatsService } from '../gen/chats/chats';
import { StreamsService } from '../gen/streams/streams';
import { ThreadsService } from '../gen/threads/threads';
import { storeProblems } from '../helpers/invariants';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, TEST_TOKEN, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
let raw: Client;

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
  raw = new Client(svc.address, credentials.createInsecure());
});
afterAll(async () => {
  raw?.close();
  await svc?.stop();
  await redis?.stop();
});

const INVALID_REASONS = new Set([
  'MISSING_ID', 'MISSING_GROUP_ID', 'MISSING_TOPIC', 'MISSING_AUTHOR_ID', 'MISSING_TEXT', 'MISSING_THREAD_ID',
  'MISSING_THREAD_IDS', 'MISSING_CHAT_ID', 'MISSING_USER_IDS', 'MISSING_USER_ID', 'MISSING_CONVERSATION_ID', 'MISSING_CONVERSATION_IDS',
  'INVALID_ARGUMENT', 'FIELD_TOO_LONG', 'TOO_MANY_IDS', 'INVALID_STRING',
]);

/** Strings that break naive code: empty, huge, control characters, separators, Unicode, near the limits. */
const nasty = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('', ' ', 'a', 'x'.repeat(256), 'x'.repeat(257), 'é'.repeat(129), '\u0000', '\u0000\u0001\u001f', '{a}', ':', '*', '%00', '😀'.repeat(70), 'x'.repeat(20_000)) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom('g1', 'g2', 'u1', 'u2', 'id-1') }, // collide on purpose
);
const int64 = fc.oneof(
  fc.constantFrom('0', '1', '-1', '25', '1000', '1001', '100000', '100001', '9223372036854775807', '-9223372036854775808'),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
);
const int32 = fc.oneof(fc.constantFrom(undefined, 0, 1, -1, 1000, 1001, 2147483647, -2147483648), fc.integer());
const order = fc.oneof(fc.constantFrom('', 'asc', 'desc', 'ASC', 'up'), fc.string({ maxLength: 8 }));
const ids = fc.array(nasty, { maxLength: 110 });
const timestamp = fc.option(
  fc.record({ seconds: fc.oneof(fc.constantFrom('0', '-62135596801', '253402300800'), fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }).map(String)), nanos: fc.oneof(fc.constantFrom(-1, 0, 999_999_999, 1_000_000_000), fc.integer()) }),
  { nil: undefined },
);

const requests: Record<string, Record<string, fc.Arbitrary<object>>> = {
  threads: {
    createThread: fc.record({ groupId: nasty, topic: nasty }),
    readThread: fc.record({ id: nasty, groupId: nasty }),
    updateThread: fc.record({ id: nasty, topic: nasty }),
    deleteThread: fc.record({ id: nasty }),
    listThreads: fc.record({ groupId: nasty, limit: int64, offset: int64, order }),
    createMessage: fc.record({ id: nasty, threadId: nasty, authorId: nasty, text: nasty }),
    listMessages: fc.record({ threadId: nasty, limit: int64, offset: int64, order }),
    recentMessages: fc.record({ threadIds: ids, limitPerThread: int64, groupId: nasty }),
  },
  chats: {
    createChat: fc.record({ userIds: ids, id: nasty }),
    sendMessage: fc.record({ id: nasty, chatId: nasty, authorId: nasty, text: nasty }),
    listMessages: fc.record({ chatId: nasty, limit: int64, offset: int64, order }),
  },
  streams: {
    createConversation: fc.record({ groupId: nasty, topic: nasty }),
    readConversation: fc.record({ id: nasty, groupId: fc.option(nasty, { nil: undefined }) }),
    updateConversation: fc.record({ id: nasty, topic: nasty }),
    deleteConversation: fc.record({ id: nasty }),
    listConversations: fc.record({ groupId: nasty, limit: int32, offset: int32 }),
    createMessage: fc.record({ id: nasty, conversationId: nasty, authorId: nasty, text: nasty }),
    listMessages: fc.record({ conversationId: nasty, sentBefore: timestamp, limit: int32 }),
    recentMessages: fc.record({ conversationIds: ids, limitPerConversation: int32 }),
  },
};

const defs: Record<string, Record<string, { path: string; requestSerialize: (v: never) => Buffer; requestDeserialize: (b: Buffer) => object; responseStream: boolean }>> = {
  threads: ThreadsService,
  chats: ChatsService,
  streams: StreamsService,
};

function call(path: string, body: Buffer): Promise<{ code: number; reason?: string; details?: string }> {
  const md = new Metadata();
  md.set('authorization', `Bearer ${TEST_TOKEN}`);
  return new Promise((res) =>
    raw.makeUnaryRequest(path, (b: Buffer) => b, () => ({}), body, md, { deadline: Date.now() + 10_000 }, (err) =>
      res(err ? { code: err.code, reason: reasonOf((err as ServiceError).metadata), details: err.details } : { code: status.OK }),
    ),
  );
}

function expectDocumented(r: { code: number; reason?: string; details?: string }) {
  if (r.code === status.OK) return;
  if (r.code === status.NOT_FOUND) return expect(r.reason).toBe('NOT_FOUND');
  expect(r.code).toBe(status.INVALID_ARGUMENT);
  expect(INVALID_REASONS.has(r.reason ?? '')).toBe(true);
  expect(r.details).toMatch(/[a-z_]+/);
}

describe.each(Object.keys(requests))('%s', (service) => {
  it.each(Object.keys(requests[service]))('%s: generated requests get a success or a documented error', async (method) => {
    const def = defs[service][method];
    const defaults = def.requestDeserialize(Buffer.alloc(0));
    await fc.assert(
      fc.asyncProperty(requests[service][method], async (req) => {
        const body = def.requestSerialize({ ...defaults, ...req } as never);
        expectDocumented(await call(def.path, body));
      }),
      { numRuns: 60 },
    );
  });
});

it('random bytes as a request body are INVALID_ARGUMENT or a valid request, never INTERNAL', async () => {
  // Unary methods: a Subscribe that decodes to a valid request stays open (test/feed covers its input).
  const paths = Object.values(defs).flatMap((svcDef) => Object.values(svcDef).filter((d) => !d.responseStream).map((d) => d.path));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 300 }), async (path, bytes) => {
      expectDocumented(await call(path, Buffer.from(bytes)));
    }),
    { numRuns: 300 },
  );
});

/** Serializes `req` with `marker` in one string field, then swaps the marker's bytes for `bad` (same length). */
function withBytes(def: { requestSerialize: (v: never) => Buffer; requestDeserialize: (b: Buffer) => object }, req: object, marker: string, bad: Uint8Array): Buffer {
  const body = def.requestSerialize({ ...def.requestDeserialize(Buffer.alloc(0)), ...req } as never);
  const at = body.indexOf(Buffer.from(marker));
  expect(at).toBeGreaterThanOrEqual(0);
  expect(bad.length).toBe(Buffer.byteLength(marker));
  Buffer.from(bad).copy(body, at);
  return body;
}

it('invalid UTF-8 in a string field is INVALID_STRING naming that field, and nothing is stored', async () => {
  const M = 'MARK';
  const cases = [
    { def: ThreadsService.createThread, req: { groupId: M, topic: 't' }, field: 'group_id' },
    { def: ThreadsService.createThread, req: { groupId: 'utf8', topic: M }, field: 'topic' },
    { def: ChatsService.createChat, req: { userIds: ['ann', M] }, field: 'user_ids' },
    { def: StreamsService.readConversation, req: { id: 'c', groupId: M }, field: 'group_id.value' },
  ];
  // Lone continuation byte, overlong "/", a UTF-16 surrogate, a truncated 4-byte sequence.
  const bad = fc.constantFrom([0x80, 0x41, 0x41, 0x41], [0xc0, 0xaf, 0x41, 0x41], [0xed, 0xa0, 0x80, 0x41], [0x41, 0xf0, 0x9f, 0x98]);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...cases), bad, async (c, bytes) => {
      const r = await call(c.def.path, withBytes(c.def, c.req, M, Uint8Array.from(bytes)));
      expect(r).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_STRING' });
      expect(r.details).toContain(`${c.field} is not valid UTF-8`);
    }),
    { numRuns: 40 },
  );
  expect((await svc.threads.listThreads({ groupId: 'utf8' })).threads).toEqual([]);
  // A real U+FFFD, and any valid text, is stored as sent.
  const { thread } = await svc.threads.createThread({ groupId: 'utf8', topic: '\uFFFD ok 😀' });
  expect(thread!.topic).toBe('\uFFFD ok 😀');
});

it('generated messages and duplicated client ids into existing threads, chats and conversations', async () => {
  const thread = (await svc.threads.createThread({ groupId: 'props', topic: 't' })).thread!.id;
  const chat = (await svc.chats.createChat({ userIds: ['p1', 'p2'] })).chat!.id;
  const conv = (await svc.streams.createConversation({ groupId: 'props', topic: 't' })).conversation!.id;
  const targets = [
    { def: ThreadsService.createMessage, field: 'threadId', id: thread },
    { def: ChatsService.sendMessage, field: 'chatId', id: chat },
    { def: StreamsService.createMessage, field: 'conversationId', id: conv },
  ];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...targets), fc.constantFrom('', 'dup-1', 'dup-2'), nasty, nasty, async (t, id, authorId, text) => {
      const defaults = t.def.requestDeserialize(Buffer.alloc(0));
      const body = t.def.requestSerialize({ ...defaults, id, authorId, text, [t.field]: t.id } as never);
      expectDocumented(await call(t.def.path, body));
    }),
    { numRuns: 300 },
  );
  const listed = (await svc.threads.listMessages({ threadId: thread, limit: '1000' })).messages;
  expect(listed.filter((m) => m.id === 'dup-1').length).toBeLessThanOrEqual(1);
});

it('after all of it the store is consistent', async () => {
  expect(await storeProblems(redis.client())).toEqual([]);
});

it('(the consistency check itself finds a broken store)', async () => {
  const r = redis.client();
  const [meta] = await r.keys('pl1:{default:t:*}:meta');
  await r.hincrby(meta, 'n', 1);
  const [idx] = await r.keys('pl1:{default:tg:*}:idx');
  await r.zadd(idx, 999999, 'ghost');
  const problems = await storeProblems(r);
  expect(problems.some((p) => p.includes('count'))).toBe(true);
  expect(problems.some((p) => p.includes('ghost'))).toBe(true);
});
