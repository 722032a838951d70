/**
 * The two transports answer alike. Each generated request is built once, as a
 * model, and sent twice: as a gRPC request (the ts-proto test clients) and as
 * the equivalent proto3 JSON body through the HTTP transport (in-process by
 * default; over gRPC in the gateway-remote project). Both must have the same
 * outcome: the same reply (the gRPC reply put in its proto3 JSON shape) or the
 * same error (ErrorInfo.reason over gRPC, the body's `id` over HTTP, with the
 * same detail and the HTTP status of that id).
 *
 * Every method of the three services is covered, with valid and invalid
 * values mixed: missing and empty required fields, strings at and over their
 * (small, test) limits, bad `order`, negative and too large limit/offset,
 * existing, absent and other-API ids, Streams' Timestamp `sent_before` (at,
 * just before and just after stored message times) and Int32Value wrappers.
 * The JSON side varies what proto3 JSON allows: snake_case or lowerCamelCase
 * names, `null` or omission for an unset field, int64 as a string or a number,
 * int32 as a number or a string, and a Timestamp with nine fraction digits,
 * the fewest, or a UTC offset. Left out, as they have no equivalent in the
 * other transport: lone surrogates (refused at different layers by design),
 * Timestamps outside 0001..9999 or with negative nanos (no RFC 3339
 * spelling), and JSON-only spellings such as null list items.
 *
 * Reads (Read*, List*, RecentMessages) run on a fixture no write touches, and
 * must give deep-equal replies. Writes go to their own containers and groups
 * and are sent through both transports one after the other (in a random
 * order): an update, a delete, a CreateChat and a message with a client id
 * must answer the second call exactly as the first; a new container or a
 * message without a client id must agree on everything but its generated id
 * and time (and seq, which must be the next one).
 */
import fc from 'fast-check';
import { status as grpcStatus } from '@grpc/grpc-js';
import { codeOf, httpStatusOf, isErrorId } from '../../src/core/errors';
import { defaultLimits, type Limits } from '../../src/core/limits';
import { bearer, startGateway, type TestGateway } from '../helpers/gateway';
import { failure } from '../helpers/grpc';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, TEST_TOKEN, type TestService } from '../helpers/service';

/** Small limits, so the limits themselves are cheap to reach (ids stay above a UUID's 36 bytes). */
const LIMITS: Limits = {
  ...defaultLimits,
  MAX_TEXT_BYTES: 64,
  MAX_TOPIC_BYTES: 48,
  MAX_ID_BYTES: 40,
  MAX_IDS_PER_CALL: 5,
  MAX_PAGE_SIZE: 50,
  MAX_OFFSET: 20,
  MAX_RECENT_PER_CONTAINER: 10,
};
const READ_RUNS = 120;
/** About when the fixture is made (ListThreads' time bounds are drawn around it). */
const FIXTURE_TIME = Date.now();
const WRITE_RUNS = 100;

// ---------------------------------------------------------------------------
// The model of a request: field values by their camelCase name, undefined for
// a field not sent. Ids of the fixture are symbolic (a pool and an index),
// resolved when the request is sent, so generation needs no running service.

type Pool = 'thread' | 'chat' | 'conv' | 'wthread' | 'wchat' | 'wconv' | 'tmsg' | 'cmsg' | 'vmsg' | 'wtmsg' | 'wcmsg' | 'wvmsg' | 'xthread' | 'ythread';
interface Ref {
  pool: Pool;
  i: number;
}
/** A time near a stored conversation message's sent_at. */
interface TimeRef {
  near: number;
  deltaNs: bigint;
}
interface Ts {
  seconds: bigint;
  nanos: number;
}
type Model = Record<string, unknown>;

type Kind = 'string' | 'strings' | 'int64' | 'int32w' | 'stringw' | 'timestamp' | 'participants';
type Service = 'threads' | 'chats' | 'streams';
type WriteKind = 'same' | 'create' | 'message' | 'edit' | 'once';

interface Spec {
  service: Service;
  rpc: string;
  fields: Record<string, Kind>;
  /** How two successful answers to the same write compare; absent for reads. */
  write?: WriteKind;
  gen: fc.Arbitrary<Model>;
  /** One request that succeeds on the fixture (`{}` is the failing example: every method has a required field). */
  valid: Model;
}

const SERVICE_NAME: Record<Service, string> = { threads: 'Threads', chats: 'Chats', streams: 'Streams' };
const MIN_SECONDS = -62135596800n;
const MAX_SECONDS = 253402300799n;

// ---------------------------------------------------------------------------
// Generators.

/** A field that is sometimes not sent at all. */
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 7 });

/** Strings around a UTF-8 byte limit (`max` is a multiple of 4): at it and one byte over, in 1-, 2- and 4-byte characters. */
const atLimit = (max: number) =>
  fc.constantFrom('x'.repeat(max), 'x'.repeat(max + 1), 'é'.repeat(max / 2), 'é'.repeat(max / 2) + 'x', '😀'.repeat(max / 4), 'x' + '😀'.repeat(max / 4));

const text = (max: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('hello', 'a', 'Ünïcødé ✓', '😀 emoji', 'tab\tnew\nline', 'nul\u0000byte', ' ', '{a}:*%00') },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }).filter((s) => s.isWellFormed()) },
    { weight: 2, arbitrary: atLimit(max) },
    { weight: 1, arbitrary: fc.constant('') },
  );

const ref = (pool: Pool): fc.Arbitrary<Ref> => fc.nat({ max: 999 }).map((i) => ({ pool, i }));

/** An id: mostly one of `pools` (repeat a pool to weigh it), else absent, empty, too long or random. */
const id = (...pools: Pool[]): fc.Arbitrary<string | Ref> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.oneof(...pools.map(ref)) },
    { weight: 1, arbitrary: fc.constantFrom('absent', '00000000-0000-0000-0000-000000000000') },
    { weight: 2, arbitrary: atLimit(LIMITS.MAX_ID_BYTES) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => s.isWellFormed()) },
  );

const readGroup = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('rg-a', 'rg-b') },
  { weight: 1, arbitrary: fc.constantFrom('rg-empty', '', 'wg-a') },
  { weight: 1, arbitrary: atLimit(LIMITS.MAX_ID_BYTES) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => s.isWellFormed()) },
);
const writeGroup = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('wg-a', 'wg-b') },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: atLimit(LIMITS.MAX_ID_BYTES) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => s.isWellFormed()) },
);

/** An int64 in [0, max], just outside it, at the type's ends, or anywhere in its range. */
const int64 = (max: number): fc.Arbitrary<bigint> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: BigInt(max) }) },
    { weight: 2, arbitrary: fc.constantFrom(0n, -1n, -2n, BigInt(max), BigInt(max) + 1n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
  );
const int32 = (max: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max }) },
    { weight: 2, arbitrary: fc.constantFrom(0, -1, -2, max, max + 1, 2 ** 31 - 1, -(2 ** 31)) },
    { weight: 1, arbitrary: fc.integer() },
  );
const order = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('', 'asc', 'desc') },
  { weight: 2, arbitrary: fc.constantFrom('ASC', 'Desc', 'up', ' asc', 'asc ', 'ascending') },
  { weight: 1, arbitrary: fc.string({ maxLength: 5 }) },
);
/** Near a stored message's time (to the nanosecond), at the ends of the Timestamp range, or anywhere in it. */
const timestamp: fc.Arbitrary<Ts | TimeRef> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ near: fc.nat({ max: 999 }), deltaNs: fc.constantFrom(-1_000_000n, -1000n, -1n, 0n, 1n, 1000n, 1_000_000n) }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Ts>(
      { seconds: 0n, nanos: 0 },
      { seconds: MIN_SECONDS, nanos: 0 },
      { seconds: MAX_SECONDS, nanos: 999_999_999 },
      { seconds: -1n, nanos: 500_000_000 },
      { seconds: 4_102_444_800n, nanos: 1 },
    ),
  },
  { weight: 1, arbitrary: fc.record({ seconds: fc.bigInt({ min: MIN_SECONDS, max: MAX_SECONDS }), nanos: fc.integer({ min: 0, max: 999_999_999 }) }) },
);
/** A participant as ts-proto sends it (every field), good or bad field by field. */
const participantModel = fc.record({
  id: fc.constantFrom('pa', 'pb', 'pc', '', 'x'.repeat(LIMITS.MAX_ID_BYTES + 1)),
  type: fc.constantFrom('', 'user', 'agent', 'tool', 'bot'),
  name: fc.constantFrom('', 'Pat', 'x'.repeat(LIMITS.MAX_TOPIC_BYTES + 1)),
  role: fc.constantFrom('', 'read_write', 'read_only', 'admin'),
  metadata: fc.constantFrom({}, { k: 'v' }, { '': 'x' }),
  joinedAt: fc.constant(''),
});
/** A ListThreads time bound: around the fixture's creation, far off, or not RFC 3339 (a day that does not exist, no offset). */
const rfc3339Arg = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -120, max: 120 }).map((s) => new Date(FIXTURE_TIME + s * 1000).toISOString()) },
  { weight: 1, arbitrary: fc.constantFrom('1970-01-01T00:00:00Z', '2999-12-31T23:59:59.999999999+05:30', '2026-02-30T00:00:00Z', '2026-12-02 10:00:00', 'yesterday', '') },
);
const ids = (...pools: Pool[]) => fc.array(id(...pools), { maxLength: LIMITS.MAX_IDS_PER_CALL + 2 });
/** A client message id: often none, often one of a few (so repeats happen), sometimes too long. */
const clientId = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.nat({ max: 7 }).map((n) => `cm-${n}`) },
  { weight: 1, arbitrary: atLimit(LIMITS.MAX_ID_BYTES) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }).filter((s) => s.isWellFormed()) },
);
const user = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('w1', 'w2', 'w3', 'w4', 'r1', 'r2') },
  { weight: 1, arbitrary: fc.constantFrom('', 'Ü', '😀') },
  { weight: 1, arbitrary: atLimit(LIMITS.MAX_ID_BYTES) },
);

const T = LIMITS.MAX_TEXT_BYTES;
const P = LIMITS.MAX_TOPIC_BYTES;
const I = LIMITS.MAX_ID_BYTES;

/**
 * The methods every API has beyond m3o on one container's messages: ReadMessage (a read of the
 * read fixture), then writes in the order that keeps each valid request valid (edits and restores
 * before deletes and purges), and MarkRead.
 */
function messageLife(service: Service, cfield: string, rpool: Pool, wpool: Pool, rmsg: Pool, wmsg: Pool): Spec[] {
  const ref = (extra: Record<string, fc.Arbitrary<unknown>> = {}) =>
    fc.record({ [cfield]: opt(id(wpool)), id: opt(id(wmsg)), ...extra } as Record<string, fc.Arbitrary<unknown>>);
  const target = (i: number) => ({ [cfield]: { pool: wpool, i: 0 }, id: { pool: wmsg, i } });
  const lifecycle = (rpc: string, i: number): Spec => ({ service, rpc, fields: { [cfield]: 'string', id: 'string' }, write: 'same', gen: ref(), valid: target(i) });
  return [
    {
      service, rpc: 'ReadMessage', fields: { [cfield]: 'string', id: 'string' },
      gen: fc.record({ [cfield]: opt(id(rpool, rpool, wpool)), id: opt(id(rmsg, rmsg, wmsg)) }),
      valid: { [cfield]: { pool: rpool, i: 1 }, id: { pool: rmsg, i: 0 } },
    },
    {
      service, rpc: 'UpdateMessage', fields: { [cfield]: 'string', id: 'string', text: 'string' }, write: 'edit',
      gen: ref({ text: opt(text(T)) }),
      valid: { ...target(0), text: 'edited' },
    },
    lifecycle('RestoreMessage', 0),
    lifecycle('DeleteMessage', 1),
    lifecycle('PurgeMessage', 1),
    {
      service, rpc: 'MarkRead', fields: { [cfield]: 'string', userId: 'string', messageId: 'string' }, write: 'same',
      gen: fc.record({ [cfield]: opt(id(wpool, wpool, 'thread')), userId: opt(user), messageId: opt(id(wmsg, wmsg)) }),
      valid: { [cfield]: { pool: wpool, i: 1 }, userId: 'r1', messageId: { pool: wmsg, i: 0 } },
    },
  ];
}

const SPECS: Spec[] = [
  // threads.Threads (writes: create, update and messages before deletes, so deletes do not starve them)
  {
    service: 'threads', rpc: 'ReadThread', fields: { id: 'string', groupId: 'string' },
    gen: fc.record({ id: opt(id('thread', 'thread', 'thread', 'conv')), groupId: opt(readGroup) }),
    valid: { id: { pool: 'thread', i: 1 } },
  },
  {
    service: 'threads', rpc: 'ListThreads',
    fields: {
      groupId: 'string', limit: 'int64', offset: 'int64', order: 'string', includeDeleted: 'string', ids: 'strings', participantId: 'string',
      createdBy: 'string', parentMessageId: 'string', createdAfter: 'string', createdBefore: 'string', updatedAfter: 'string', updatedBefore: 'string',
    },
    gen: fc.record({
      groupId: opt(readGroup), limit: opt(int64(LIMITS.MAX_PAGE_SIZE)), offset: opt(int64(LIMITS.MAX_OFFSET)), order: opt(order),
      includeDeleted: opt(fc.constantFrom('', 'false', 'true', 'only', 'yes')),
      ids: opt(ids('thread', 'thread', 'conv')),
      participantId: opt(fc.constantFrom('', 'rp-1', 'rp-2', 'nobody')),
      createdBy: opt(fc.constantFrom('', 'ann', 'bob')),
      parentMessageId: opt(fc.oneof(fc.constantFrom('', 'null', 'absent'), id('tmsg'))),
      createdAfter: opt(rfc3339Arg), createdBefore: opt(rfc3339Arg), updatedAfter: opt(rfc3339Arg), updatedBefore: opt(rfc3339Arg),
    }),
    valid: { groupId: 'rg-a' },
  },
  {
    service: 'threads', rpc: 'ListMessages', fields: { threadId: 'string', limit: 'int64', offset: 'int64', order: 'string' },
    gen: fc.record({ threadId: opt(id('thread', 'thread', 'thread', 'conv', 'chat')), limit: opt(int64(LIMITS.MAX_PAGE_SIZE)), offset: opt(int64(LIMITS.MAX_OFFSET)), order: opt(order) }),
    valid: { threadId: { pool: 'thread', i: 3 }, limit: 5n, order: 'asc' },
  },
  {
    service: 'threads', rpc: 'RecentMessages', fields: { threadIds: 'strings', limitPerThread: 'int64', groupId: 'string' },
    gen: fc.record({ threadIds: opt(ids('thread', 'thread', 'conv')), limitPerThread: opt(int64(LIMITS.MAX_RECENT_PER_CONTAINER)), groupId: opt(readGroup) }),
    valid: { groupId: 'rg-a', limitPerThread: 2n },
  },
  {
    service: 'threads', rpc: 'GetUnread', fields: { userId: 'string', groupId: 'string' },
    gen: fc.record({ userId: opt(user), groupId: opt(readGroup) }),
    valid: { userId: 'r1', groupId: 'rg-a' },
  },
  {
    service: 'threads', rpc: 'CreateThread', fields: { groupId: 'string', topic: 'string' }, write: 'create',
    gen: fc.record({ groupId: opt(writeGroup), topic: opt(text(P)) }),
    valid: { groupId: 'wg-a', topic: 'new' },
  },
  {
    service: 'threads', rpc: 'UpdateThread', fields: { id: 'string', topic: 'string' }, write: 'same',
    gen: fc.record({ id: opt(id('wthread')), topic: opt(text(P)) }),
    valid: { id: { pool: 'wthread', i: 0 }, topic: 'updated' },
  },
  {
    service: 'threads', rpc: 'CreateMessage', fields: { id: 'string', threadId: 'string', authorId: 'string', text: 'string' }, write: 'message',
    gen: fc.record({ id: opt(clientId), threadId: opt(id('wthread')), authorId: opt(text(I)), text: opt(text(T)) }),
    valid: { threadId: { pool: 'wthread', i: 0 }, authorId: 'ann', text: 'hi' },
  },
  ...messageLife('threads', 'threadId', 'thread', 'wthread', 'tmsg', 'wtmsg'),
  {
    service: 'threads', rpc: 'AddParticipants', fields: { threadId: 'string', participants: 'participants' }, write: 'same',
    gen: fc.record({ threadId: opt(id('wthread')), participants: opt(fc.array(participantModel, { maxLength: LIMITS.MAX_IDS_PER_CALL + 1 })) }),
    valid: { threadId: { pool: 'wthread', i: 0 }, participants: [{ id: 'pa', type: 'agent', name: 'A', role: 'read_write', metadata: {}, joinedAt: '' }] },
  },
  {
    service: 'threads', rpc: 'RemoveParticipants', fields: { threadId: 'string', participantIds: 'strings' }, write: 'same',
    gen: fc.record({ threadId: opt(id('wthread')), participantIds: opt(fc.array(fc.constantFrom('pa', 'pb', 'absent', '', 'x'.repeat(LIMITS.MAX_ID_BYTES + 1)), { maxLength: LIMITS.MAX_IDS_PER_CALL + 1 })) }),
    valid: { threadId: { pool: 'wthread', i: 0 }, participantIds: ['pb'] },
  },
  {
    service: 'threads', rpc: 'ListParticipants', fields: { threadId: 'string', limit: 'int64' },
    gen: fc.record({ threadId: opt(id('thread', 'thread', 'conv')), limit: opt(int64(LIMITS.MAX_PAGE_SIZE)) }),
    valid: { threadId: { pool: 'thread', i: 0 } },
  },
  {
    service: 'threads', rpc: 'SoftDeleteThread', fields: { id: 'string' }, write: 'same',
    gen: fc.record({ id: opt(id('xthread')) }),
    valid: { id: { pool: 'xthread', i: 1 } },
  },
  {
    // A purge answers {} and the second call NOT_FOUND: it runs on a pool of its own, half trashed.
    service: 'threads', rpc: 'PurgeThread', fields: { id: 'string' }, write: 'once',
    gen: fc.record({ id: opt(id('ythread')) }),
    valid: { id: { pool: 'ythread', i: 0 } },
  },
  {
    service: 'threads', rpc: 'RestoreThread', fields: { id: 'string' }, write: 'same',
    gen: fc.record({ id: opt(id('xthread')) }),
    valid: { id: { pool: 'xthread', i: 1 } },
  },
  {
    service: 'threads', rpc: 'DeleteThread', fields: { id: 'string' }, write: 'same',
    gen: fc.record({ id: opt(id('wthread')) }),
    valid: { id: { pool: 'wthread', i: 1 } },
  },
  // chats.Chats
  {
    service: 'chats', rpc: 'ListMessages', fields: { chatId: 'string', limit: 'int64', offset: 'int64', order: 'string' },
    gen: fc.record({ chatId: opt(id('chat', 'chat', 'chat', 'thread')), limit: opt(int64(LIMITS.MAX_PAGE_SIZE)), offset: opt(int64(LIMITS.MAX_OFFSET)), order: opt(order) }),
    valid: { chatId: { pool: 'chat', i: 2 }, offset: 1n },
  },
  {
    service: 'chats', rpc: 'CreateChat', fields: { userIds: 'strings', id: 'string' }, write: 'same',
    gen: fc.record({
      userIds: opt(fc.array(user, { maxLength: LIMITS.MAX_IDS_PER_CALL + 2 })),
      id: opt(fc.oneof(fc.constant(''), fc.nat({ max: 5 }).map((n) => `chat-${n}`), id('wchat', 'chat'))),
    }),
    valid: { userIds: ['w2', 'w1'] },
  },
  {
    service: 'chats', rpc: 'SendMessage', fields: { id: 'string', chatId: 'string', authorId: 'string', text: 'string' }, write: 'message',
    gen: fc.record({ id: opt(clientId), chatId: opt(id('wchat')), authorId: opt(text(I)), text: opt(text(T)) }),
    valid: { chatId: { pool: 'wchat', i: 0 }, authorId: 'w1', text: 'hi', id: 'cm-0' },
  },
  ...messageLife('chats', 'chatId', 'chat', 'wchat', 'cmsg', 'wcmsg'),
  {
    service: 'chats', rpc: 'GetUnread', fields: { userId: 'string' },
    gen: fc.record({ userId: opt(user) }),
    valid: { userId: 'r1' },
  },
  {
    service: 'chats', rpc: 'ListChats', fields: { userId: 'string', limit: 'int64' },
    gen: fc.record({ userId: opt(user), limit: opt(int64(LIMITS.MAX_PAGE_SIZE)) }),
    valid: { userId: 'r1' },
  },
  {
    service: 'chats', rpc: 'ReadChat', fields: { id: 'string', userId: 'string' },
    gen: fc.record({ id: opt(id('chat', 'chat', 'thread')), userId: opt(user) }),
    valid: { id: { pool: 'chat', i: 1 }, userId: 'r1' },
  },
  {
    service: 'chats', rpc: 'DeleteChat', fields: { id: 'string' }, write: 'same',
    gen: fc.record({ id: opt(id('wchat')) }),
    valid: { id: { pool: 'wchat', i: 1 } },
  },
  // streams.Streams
  {
    service: 'streams', rpc: 'ReadConversation', fields: { id: 'string', groupId: 'stringw' },
    gen: fc.record({ id: opt(id('conv', 'conv', 'conv', 'thread')), groupId: opt(readGroup) }),
    valid: { id: { pool: 'conv', i: 0 }, groupId: 'rg-a' },
  },
  {
    service: 'streams', rpc: 'ListConversations', fields: { groupId: 'string', limit: 'int32w', offset: 'int32w' },
    gen: fc.record({ groupId: opt(readGroup), limit: opt(int32(LIMITS.MAX_PAGE_SIZE)), offset: opt(int32(LIMITS.MAX_OFFSET)) }),
    valid: { groupId: 'rg-a', limit: 2, offset: 1 },
  },
  {
    service: 'streams', rpc: 'ListMessages', fields: { conversationId: 'string', sentBefore: 'timestamp', limit: 'int32w' },
    gen: fc.record({ conversationId: opt(id('conv', 'conv', 'conv', 'thread')), sentBefore: opt(timestamp), limit: opt(int32(LIMITS.MAX_PAGE_SIZE)) }),
    valid: { conversationId: { pool: 'conv', i: 2 }, sentBefore: { near: 3, deltaNs: 0n }, limit: 3 },
  },
  {
    service: 'streams', rpc: 'RecentMessages', fields: { conversationIds: 'strings', limitPerConversation: 'int32w' },
    gen: fc.record({ conversationIds: opt(ids('conv', 'conv', 'thread')), limitPerConversation: opt(int32(LIMITS.MAX_RECENT_PER_CONTAINER)) }),
    valid: { conversationIds: [{ pool: 'conv', i: 2 }, { pool: 'conv', i: 1 }] },
  },
  {
    service: 'streams', rpc: 'CreateConversation', fields: { groupId: 'string', topic: 'string' }, write: 'create',
    gen: fc.record({ groupId: opt(writeGroup), topic: opt(text(P)) }),
    valid: { groupId: 'wg-b', topic: 'new' },
  },
  {
    service: 'streams', rpc: 'UpdateConversation', fields: { id: 'string', topic: 'string' }, write: 'same',
    gen: fc.record({ id: opt(id('wconv')), topic: opt(text(P)) }),
    valid: { id: { pool: 'wconv', i: 0 }, topic: 'updated' },
  },
  {
    service: 'streams', rpc: 'CreateMessage', fields: { id: 'string', conversationId: 'string', authorId: 'string', text: 'string' }, write: 'message',
    gen: fc.record({ id: opt(clientId), conversationId: opt(id('wconv')), authorId: opt(text(I)), text: opt(text(T)) }),
    valid: { conversationId: { pool: 'wconv', i: 0 }, authorId: 'ann', text: 'hi' },
  },
  ...messageLife('streams', 'conversationId', 'conv', 'wconv', 'vmsg', 'wvmsg'),
  {
    service: 'streams', rpc: 'GetUnread', fields: { userId: 'string', groupId: 'string' },
    gen: fc.record({ userId: opt(user), groupId: opt(readGroup) }),
    valid: { userId: 'r1', groupId: 'rg-a' },
  },
  {
    service: 'streams', rpc: 'DeleteConversation', fields: { id: 'string' }, write: 'same',
    gen: fc.record({ id: opt(id('wconv')) }),
    valid: { id: { pool: 'wconv', i: 1 } },
  },
];

/** How the JSON body spells what the model holds: every choice here is the same request in proto3 JSON. */
interface JsonStyle {
  camel: boolean;
  /** An unset field as `null` rather than left out. */
  nulls: boolean;
  int64Numbers: boolean;
  int32Strings: boolean;
  ts: 'nine' | 'fewest' | 'utc-offset' | 'offset';
  /** Streams under its m3o alias prefix /protobuf/Streams. */
  alias: boolean;
}
const jsonStyle: fc.Arbitrary<JsonStyle> = fc.record({
  camel: fc.boolean(),
  nulls: fc.boolean(),
  int64Numbers: fc.boolean(),
  int32Strings: fc.boolean(),
  ts: fc.constantFrom('nine', 'fewest', 'utc-offset', 'offset'),
  alias: fc.boolean(),
});
/** snake_case, strings for int64, nine fraction digits: the plainest spelling. */
const CANONICAL: JsonStyle = { camel: false, nulls: false, int64Numbers: false, int32Strings: false, ts: 'nine', alias: false };

// ---------------------------------------------------------------------------
// The service, the gateway and the fixture.

let redis: TestRedis;
let svc: TestService;
let gw: TestGateway;
const pools: Record<Pool, string[]> = { thread: [], chat: [], conv: [], wthread: [], wchat: [], wconv: [], tmsg: [], cmsg: [], vmsg: [], wtmsg: [], wcmsg: [], wvmsg: [], xthread: [], ythread: [] };
/** sent_at of every fixture conversation message. */
const times: Ts[] = [];

const TEXTS = ['one', 'Ünïcødé ✓', '😀', 'nul\u0000', 'x'.repeat(T), '  spaced  ', 'é'.repeat(T / 2)];
const AUTHORS = ['ann', 'bob', 'Ü', '😀'];

async function fill(post: (m: { id: string; authorId: string; text: string }) => Promise<unknown>, n: number, tag: string) {
  for (let k = 0; k < n; k++) await post({ id: k % 3 === 0 ? `${tag}-${k}` : '', authorId: AUTHORS[k % AUTHORS.length], text: TEXTS[k % TEXTS.length] });
}

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url, LIMITS);
  gw = await startGateway(svc, {}, bearer(TEST_TOKEN));

  // Read fixture: never written by the properties.
  for (const [group, counts] of [['rg-a', [0, 3, 7, 12]], ['rg-b', [2]]] as const) {
    for (const [k, n] of counts.entries()) {
      // Creators and participants for ListThreads' filters.
      const participants = k % 2 === 0 ? [{ id: 'rp-1', type: 'agent', name: 'R', role: 'read_write', metadata: {}, joinedAt: '' }] : [];
      const t = (await svc.threads.createThread({ groupId: group, topic: `topic ${k} Ü`, createdBy: k % 3 === 0 ? 'ann' : 'bob', participants })).thread!;
      await fill((m) => svc.threads.createMessage({ ...m, threadId: t.id }), n, `t${k}`);
      pools.thread.push(t.id);
    }
  }
  const gone = (await svc.threads.createThread({ groupId: 'rg-a', topic: 'deleted' })).thread!.id;
  await svc.threads.deleteThread({ id: gone });
  pools.thread.push(gone);
  for (const [k, [users, n, chatId]] of ([[['r1', 'r2'], 0, ''], [['r3', 'r1', 'r2'], 4, ''], [['r2', 'r3'], 9, 'chat-fixed']] as const).entries()) {
    const c = (await svc.chats.createChat({ userIds: [...users], id: chatId })).chat!;
    await fill((m) => svc.chats.sendMessage({ ...m, chatId: c.id }), n, `c${k}`);
    pools.chat.push(c.id);
  }
  for (const [group, counts] of [['rg-a', [0, 5, 11]], ['rg-b', [2]]] as const) {
    for (const [k, n] of counts.entries()) {
      const c = (await svc.streams.createConversation({ groupId: group, topic: `topic ${k} 😀` })).conversation!;
      await fill((m) => svc.streams.createMessage({ ...m, conversationId: c.id }), n, `v${k}`);
      pools.conv.push(c.id);
      for (const m of (await svc.streams.listMessages({ conversationId: c.id, limit: 50 })).messages) {
        times.push({ seconds: BigInt(m.sentAt!.seconds), nanos: m.sentAt!.nanos });
      }
    }
  }
  // Write pools: the properties create, update, write to and delete these (and the containers they create).
  for (const group of ['wg-a', 'wg-b']) {
    for (let k = 0; k < 2; k++) {
      const t = (await svc.threads.createThread({ groupId: group, topic: 'w' })).thread!;
      await fill((m) => svc.threads.createMessage({ ...m, threadId: t.id }), 2, 'w');
      pools.wthread.push(t.id);
      const c = (await svc.streams.createConversation({ groupId: group, topic: 'w' })).conversation!;
      await fill((m) => svc.streams.createMessage({ ...m, conversationId: c.id }), 2, 'w');
      pools.wconv.push(c.id);
    }
  }
  // The trash calls' own threads (a trashed write thread would turn other writes into THREAD_DELETED).
  for (let k = 0; k < 12; k++) pools.xthread.push((await svc.threads.createThread({ groupId: 'xg', topic: 'x' })).thread!.id);
  // PurgeThread's: half of them in the trash.
  for (let k = 0; k < 24; k++) {
    const t = (await svc.threads.createThread({ groupId: 'yg', topic: 'y' })).thread!.id;
    if (k % 2 === 0) await svc.threads.softDeleteThread({ id: t });
    pools.ythread.push(t);
  }
  for (const users of [['w1', 'w2'], ['w1', 'w3'], ['w2', 'w3', 'w4']]) pools.wchat.push((await svc.chats.createChat({ userIds: users })).chat!.id);
  await fill((m) => svc.chats.sendMessage({ ...m, chatId: pools.wchat[0] }), 2, 'wc');
  // Message ids, container by container in pool order (so the first ids belong to the first container with messages).
  const ids = (r: { messages: { id: string }[] }) => r.messages.map((m) => m.id);
  for (const t of pools.thread.slice(0, -1)) pools.tmsg.push(...ids(await svc.threads.listMessages({ threadId: t, order: 'asc', limit: '50' })));
  for (const t of pools.wthread) pools.wtmsg.push(...ids(await svc.threads.listMessages({ threadId: t, order: 'asc', limit: '50' })));
  for (const c of pools.chat) pools.cmsg.push(...ids(await svc.chats.listMessages({ chatId: c, order: 'asc', limit: '50' })));
  pools.wcmsg.push(...ids(await svc.chats.listMessages({ chatId: pools.wchat[0], order: 'asc', limit: '50' })));
  for (const c of pools.conv) pools.vmsg.push(...ids(await svc.streams.listMessages({ conversationId: c, order: 'asc', limit: 50 })));
  for (const c of pools.wconv) pools.wvmsg.push(...ids(await svc.streams.listMessages({ conversationId: c, order: 'asc', limit: 50 })));
});

afterAll(async () => {
  await gw?.stop();
  await svc?.stop();
  await redis?.stop();
});

// ---------------------------------------------------------------------------
// One model → the gRPC request and the JSON body.

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function isRef(v: unknown): v is Ref {
  return typeof v === 'object' && v !== null && 'pool' in v;
}

function resolveId(v: unknown): unknown {
  if (!isRef(v)) return v;
  const pool = pools[v.pool];
  return pool[v.i % pool.length];
}

function resolveTime(v: Ts | TimeRef): Ts {
  if ('seconds' in v) return v;
  const t = times[v.near % times.length];
  const n = t.seconds * 1_000_000_000n + BigInt(t.nanos) + v.deltaNs;
  // Floor division: a Timestamp's nanos are never negative.
  const seconds = n >= 0n ? n / 1_000_000_000n : -((-n + 999_999_999n) / 1_000_000_000n);
  return { seconds, nanos: Number(n - seconds * 1_000_000_000n) };
}

/** The model with fixture references replaced by real ids and times. */
function resolve(spec: Spec, m: Model): Model {
  const out: Model = {};
  for (const [k, kind] of Object.entries(spec.fields)) {
    const v = m[k];
    if (v === undefined) continue;
    out[k] = kind === 'strings' ? (v as unknown[]).map(resolveId) : kind === 'timestamp' ? resolveTime(v as Ts | TimeRef) : resolveId(v);
  }
  return out;
}

/** ts-proto's shape: int64 as a decimal string, Timestamp as {seconds: string, nanos}, wrappers as plain values. */
function grpcRequest(spec: Spec, m: Model): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, kind] of Object.entries(spec.fields)) {
    const v = m[k];
    if (v === undefined) continue;
    if (kind === 'int64') out[k] = String(v);
    else if (kind === 'timestamp') out[k] = { seconds: String((v as Ts).seconds), nanos: (v as Ts).nanos };
    else out[k] = v;
  }
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);

/** RFC 3339 as a JSON caller may write it (proto3 JSON accepts 1 to 9 fraction digits and any offset). */
function rfc3339In(t: Ts, form: JsonStyle['ts']): string {
  const nine = String(t.nanos).padStart(9, '0');
  const ms = Number(t.seconds) * 1000;
  if (form === 'fewest') return `${iso(ms)}${t.nanos ? `.${nine.replace(/0+$/, '')}` : ''}Z`;
  if (form === 'utc-offset') return `${iso(ms)}.${nine}+00:00`;
  if (form === 'offset') {
    const [sign, minutes] = t.seconds % 2n === 0n ? ['+', 330] : ['-', 480];
    const local = ms + (sign === '+' ? 1 : -1) * minutes * 60_000;
    const year = new Date(local).getUTCFullYear();
    if (year >= 1 && year <= 9999) return `${iso(local)}.${nine}${sign}${sign === '+' ? '05:30' : '08:00'}`;
  }
  return `${iso(ms)}.${nine}Z`;
}

function jsonBody(spec: Spec, m: Model, style: JsonStyle): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, kind] of Object.entries(spec.fields)) {
    const key = style.camel ? k : snake(k);
    const v = m[k];
    if (v === undefined) {
      if (style.nulls) out[key] = null;
      continue;
    }
    if (kind === 'int64') {
      const n = v as bigint;
      out[key] = style.int64Numbers && n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : String(n);
    } else if (kind === 'int32w') out[key] = style.int32Strings ? String(v) : v;
    else if (kind === 'timestamp') out[key] = rfc3339In(v as Ts, style.ts);
    else if (kind === 'participants') {
      // joined_at is the service's (an empty string is its unset value, left out).
      out[key] = (v as Record<string, unknown>[]).map((p) =>
        Object.fromEntries(Object.entries(p).filter(([f]) => f !== 'joinedAt').map(([f, x]) => [style.camel ? f : snake(f), x])),
      );
    } else out[key] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Outcomes, in one comparable shape.

type Outcome = { ok: true; body: unknown } | { ok: false; id: string; status: number; detail: string };

/** A Timestamp as the gateway writes it: 0, 3, 6 or 9 fraction digits (proto3 JSON). */
function rfc3339Out(t: { seconds: string; nanos: number }): string {
  const base = iso(Number(t.seconds) * 1000);
  if (t.nanos === 0) return `${base}Z`;
  let f = String(t.nanos).padStart(9, '0');
  if (f.endsWith('000000')) f = f.slice(0, 3);
  else if (f.endsWith('000')) f = f.slice(0, 6);
  return `${base}.${f}Z`;
}

/** A ts-proto reply in its proto3 JSON shape: snake_case keys, Timestamps as RFC 3339, an unset message as null (64-bit ints are strings already). */
function jsonShape(v: unknown): unknown {
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(jsonShape);
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).sort().join();
    if (keys === 'nanos,seconds') return rfc3339Out(v as { seconds: string; nanos: number });
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [snake(k), jsonShape(x)]));
  }
  return v;
}

type GrpcMethod = (req: object) => Promise<unknown>;

async function viaGrpc(spec: Spec, req: Record<string, unknown>): Promise<Outcome> {
  const method = spec.rpc[0].toLowerCase() + spec.rpc.slice(1);
  const fn = (svc[spec.service] as unknown as Record<string, GrpcMethod>)[method];
  let reply: unknown;
  try {
    reply = await fn(req);
  } catch (e) {
    const f = await failure(Promise.reject(e));
    const id = f.reason ?? `(no ErrorInfo; gRPC code ${f.code})`;
    // The gRPC code must be the one the error table gives the id; the HTTP side is then held to the id's HTTP status.
    if (!isErrorId(id) || grpcStatus[codeOf(id)] !== f.code) return { ok: false, id: `${id} with gRPC code ${f.code}`, status: -1, detail: f.details };
    return { ok: false, id, status: httpStatusOf(id), detail: f.details };
  }
  return { ok: true, body: jsonShape(reply) };
}

async function viaHttp(spec: Spec, body: Record<string, unknown>, style: JsonStyle): Promise<Outcome> {
  const prefix = spec.service === 'streams' && style.alias ? '/protobuf/Streams' : `/${spec.service}/${SERVICE_NAME[spec.service]}`;
  const a = await gw.post(`${prefix}/${spec.rpc}`, body);
  if (a.status === 200) return { ok: true, body: a.body };
  return { ok: false, id: a.body?.id ?? `(no id: ${a.text.slice(0, 100)})`, status: a.status, detail: a.body?.detail };
}

// ---------------------------------------------------------------------------
// Comparing two successful writes.

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/** A reply time (RFC 3339 string or decimal nanoseconds) as Unix nanoseconds. */
function nanosOf(t: unknown): bigint {
  const s = String(t);
  if (/^\d+$/.test(s)) return BigInt(s);
  const m = RFC3339.exec(s);
  if (!m) throw new Error(`not a time: ${s}`);
  return BigInt(Date.parse(`${s.slice(0, 19)}Z`)) * 1_000_000n + BigInt((m[1] ?? '.').slice(1).padEnd(9, '0'));
}

function without(o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const out = { ...o };
  for (const k of keys) delete out[k];
  return out;
}

/** The one object a create reply holds (`thread`, `conversation`, `message`). */
function only(body: unknown): [string, Record<string, unknown>] {
  const entries = Object.entries(body as Record<string, Record<string, unknown>>);
  expect(entries).toHaveLength(1);
  return entries[0];
}

/** A reply without its containers' updated_at: a second update of the same container moves it. */
function withoutUpdatedAt(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body), (k, v: unknown) => (k === 'updated_at' ? undefined : v));
}

function compareWrites(spec: Spec, req: Model, first: Outcome & { ok: true }, second: Outcome & { ok: true }): void {
  if (spec.write === 'once') throw new Error(`${spec.rpc} succeeded twice on one id`);
  if (spec.write === 'same' || (spec.write === 'message' && req.id)) {
    // An update, a delete, a CreateChat, a message with a client id: the second call answers as the first
    // (but for updated_at when the call changed something, as an update does).
    expect(withoutUpdatedAt(second.body)).toEqual(withoutUpdatedAt(first.body));
    if (spec.rpc === 'CreateChat') {
      const chatId = only(first.body)[1].id as string;
      if (!pools.wchat.includes(chatId)) pools.wchat.push(chatId);
    }
    return;
  }
  const [name, a] = only(first.body);
  const [name2, b] = only(second.body);
  expect(name2).toBe(name);
  if (spec.write === 'edit') {
    // The same edit twice: the same message, edited again a little later.
    expect(without(b, 'edited_at')).toEqual(without(a, 'edited_at'));
    expect(nanosOf(b.edited_at)).toBeGreaterThan(nanosOf(a.edited_at));
    return;
  }
  if (spec.write === 'create') {
    // Two new containers: the same but for their ids and creation times.
    expect(without(b, 'id', 'created_at', 'updated_at')).toEqual(without(a, 'id', 'created_at', 'updated_at'));
    expect(b.id).not.toBe(a.id);
    for (const t of [a.created_at, b.created_at]) expect(nanosOf(t)).toBeGreaterThan(0n);
    pools[spec.service === 'threads' ? 'wthread' : 'wconv'].push(a.id as string, b.id as string);
    return;
  }
  // Two new messages in one container: the second is the next one.
  expect(without(b, 'id', 'seq', 'sent_at')).toEqual(without(a, 'id', 'seq', 'sent_at'));
  expect(b.id).not.toBe(a.id);
  expect(BigInt(b.seq as string)).toBe(BigInt(a.seq as string) + 1n);
  expect(nanosOf(b.sent_at)).toBeGreaterThan(nanosOf(a.sent_at));
}

// ---------------------------------------------------------------------------
// The properties.

/** Outcomes seen per method: each property must have met both a success and an error (so it never passes vacuously). */
const seen = new Map<string, Set<string>>();
const note = (spec: Spec, o: Outcome) => {
  const key = `${spec.service}.${spec.rpc}`;
  if (!seen.has(key)) seen.set(key, new Set());
  seen.get(key)!.add(o.ok ? 'OK' : o.id);
};
function expectSuccessAndError(spec: Spec) {
  const outcomes = [...(seen.get(`${spec.service}.${spec.rpc}`) ?? [])];
  expect(outcomes).toContain('OK');
  expect(outcomes.some((o) => o !== 'OK')).toBe(true);
}

it('covers every unary method of the three services (Subscribe over both transports: test/feed, test/gateway/sse)', () => {
  const methods = SPECS.map((s) => `${s.service}.${SERVICE_NAME[s.service]}/${s.rpc}`).sort();
  const served = [...svc.calls.table.all()].filter((b) => b.op.kind === 'unary').map((b) => b.path.slice(1)).sort();
  expect(methods).toEqual(served);
});

describe.each(SPECS.filter((s) => !s.write).map((s) => [`${s.service}.${s.rpc}`, s] as const))('%s (read)', (_name, spec) => {
  it('gRPC and JSON give the same reply or the same error', async () => {
    await fc.assert(
      fc.asyncProperty(spec.gen, jsonStyle, async (model, style) => {
        const m = resolve(spec, model);
        const grpc = grpcRequest(spec, m);
        const json = jsonBody(spec, m, style);
        const [g, h] = await Promise.all([viaGrpc(spec, grpc), viaHttp(spec, json, style)]);
        note(spec, g);
        expect({ json, outcome: h }).toEqual({ json, outcome: g });
      }),
      { numRuns: READ_RUNS, examples: [[spec.valid, CANONICAL], [{}, CANONICAL]] },
    );
    expectSuccessAndError(spec);
  });
});

describe.each(SPECS.filter((s) => s.write).map((s) => [`${s.service}.${s.rpc}`, s] as const))('%s (write)', (_name, spec) => {
  it('gRPC and JSON, one after the other, give the same answer (generated ids and times aside)', async () => {
    await fc.assert(
      fc.asyncProperty(spec.gen, jsonStyle, fc.boolean(), async (model, style, grpcFirst) => {
        const m = resolve(spec, model);
        const grpc = grpcRequest(spec, m);
        const json = jsonBody(spec, m, style);
        const first = grpcFirst ? await viaGrpc(spec, grpc) : await viaHttp(spec, json, style);
        const second = grpcFirst ? await viaHttp(spec, json, style) : await viaGrpc(spec, grpc);
        const [g, h] = grpcFirst ? [first, second] : [second, first];
        note(spec, g);
        if (first.ok && second.ok) return compareWrites(spec, m, first, second);
        if (spec.write === 'once' && first.ok) {
          // The first call did it; the second finds nothing left (PurgeThread).
          expect(second).toMatchObject({ ok: false, id: 'NOT_FOUND' });
          return;
        }
        expect({ json, grpcFirst, outcome: h }).toEqual({ json, grpcFirst, outcome: g });
      }),
      { numRuns: WRITE_RUNS, examples: [[spec.valid, CANONICAL, true], [{}, CANONICAL, false]] },
    );
    expectSuccessAndError(spec);
  });
});
