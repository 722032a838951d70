/**
 * Generated JSON bodies to every route of the gateway (in this process, over
 * the real service on a socket, over a real Redis). Whatever arrives —
 * random and hostile strings, lone surrogates as `\ud800` escapes, huge and
 * empty fields, wrong JSON types, deep nesting, numbers beyond 2^64 and
 * non-integers for int fields, duplicated ids, unknown fields, both name
 * styles, non-object bodies, invalid UTF-8, random bytes, odd charsets and
 * encodings, odd auth headers — the answer is 200 or a documented 4xx
 * (400/404/413/415; 401/403 where the auth header varies) whose body is
 * {"id","code","detail","status"}, naming the field when a field is at fault;
 * never a 5xx, never a hang (every request has a client timeout). At the end
 * the gateway is still healthy and the store is consistent.
 */
import { deflateSync, gzipSync, brotliCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { buildRoutes, type Route } from '../../gateway/routes';
import { loadRegistry } from '../../src/descriptors';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { errorShapeProblems, send, type RawAnswer } from '../helpers/http';
import { storeProblems } from '../helpers/invariants';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, startService, TEST_TOKEN, type TestService } from '../helpers/service';

const BODY_LIMIT = 1024 * 1024;
// Unary routes: server streams (Subscribe) answer Server-Sent Events, tested in test/gateway/sse.test.ts.
const ROUTES: Route[] = [...buildRoutes(loadRegistry()).routes.values()].filter((r) => !r.stream);
const AUTH = { authorization: `Bearer ${TEST_TOKEN}` };

let redis: TestRedis;
let svc: TestService;
let gw: TestGateway;
/** Containers that exist, so generated writes and reads also reach the store. */
const fixed = {
  thread: '',
  chat: '',
  conv: '',
  group: 'props-gw',
  msg: { thread: '', chat: '', conv: '' },
  purged: { thread: '', chat: '', conv: '' },
  /** A thread the trash calls work on, and trashed threads for each base PurgeThread request. */
  trashed: '',
  purgeable: [] as string[],
  /** addPurgeable calls under way (the store check at the end waits for them). */
  replenishing: [] as Promise<void>[],
};

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
  gw = await startGateway(svc, { bodyLimitBytes: BODY_LIMIT });
  fixed.thread = (await svc.threads.createThread({ groupId: fixed.group, topic: 't' })).thread!.id;
  fixed.trashed = (await svc.threads.createThread({ groupId: 'props-gw-trash', topic: 't' })).thread!.id;
  await Promise.all(Array.from({ length: 60 }, () => addPurgeable()));
  fixed.chat = (await svc.chats.createChat({ userIds: ['u1', 'u2'] })).chat!.id;
  fixed.conv = (await svc.streams.createConversation({ groupId: fixed.group, topic: 't' })).conversation!.id;
  // Per container: a message that stays (UpdateMessage, ReadMessage, RestoreMessage of a live one), and
  // a purged one (DeleteMessage and PurgeMessage of it change nothing and answer 200).
  for (const [k, post] of [
    ['thread', (text: string) => svc.threads.createMessage({ threadId: fixed.thread, authorId: 'a', text })],
    ['chat', (text: string) => svc.chats.sendMessage({ chatId: fixed.chat, authorId: 'a', text })],
    ['conv', (text: string) => svc.streams.createMessage({ conversationId: fixed.conv, authorId: 'a', text })],
  ] as const) {
    fixed.msg[k] = (await post('stays')).message!.id;
    fixed.purged[k] = (await post('purged')).message!.id;
  }
  await svc.threads.purgeMessage({ threadId: fixed.thread, id: fixed.purged.thread });
  await svc.chats.purgeMessage({ chatId: fixed.chat, id: fixed.purged.chat });
  await svc.streams.purgeMessage({ conversationId: fixed.conv, id: fixed.purged.conv });
});
afterAll(async () => {
  await gw?.stop();
  await svc?.stop();
  await redis?.stop();
});

// ---------------------------------------------------------------------------
// The shape of each request field, from the descriptors.

type Kind = 'string' | 'int64' | 'strings' | 'StringValue' | 'Int32Value' | 'Timestamp' | 'map' | 'participants';

function kindOf(f: DescField): Kind {
  if (f.fieldKind === 'scalar' && f.scalar === ScalarType.STRING) return 'string';
  if (f.fieldKind === 'scalar' && (f.scalar === ScalarType.INT64 || f.scalar === ScalarType.UINT64)) return 'int64';
  if (f.fieldKind === 'list' && f.listKind === 'scalar' && f.scalar === ScalarType.STRING) return 'strings';
  if (f.fieldKind === 'message' && f.message.typeName === 'google.protobuf.StringValue') return 'StringValue';
  if (f.fieldKind === 'message' && f.message.typeName === 'google.protobuf.Int32Value') return 'Int32Value';
  if (f.fieldKind === 'message' && f.message.typeName === 'google.protobuf.Timestamp') return 'Timestamp';
  if (f.fieldKind === 'map' && f.mapKey === ScalarType.STRING && f.mapKind === 'scalar' && f.scalar === ScalarType.STRING) return 'map';
  if (f.fieldKind === 'list' && f.listKind === 'message' && f.message.typeName === 'threads.Participant') return 'participants';
  throw new Error(`a request field of a kind this test does not generate yet: ${f.parent.typeName}.${f.name}`);
}

/** Every field name a detail may use for this message: snake_case and lowerCamelCase. */
const namesOf = (m: DescMessage) => m.fields.flatMap((f) => [f.name, f.jsonName]);

/** A minimal valid request per input message (the fixed containers exist). */
/** A thread in the trash for a base PurgeThread request (each is used once), with another made to replace it. */
async function addPurgeable(): Promise<void> {
  const t = (await svc.threads.createThread({ groupId: 'props-gw-trash', topic: 'p' })).thread!.id;
  await svc.threads.softDeleteThread({ id: t });
  fixed.purgeable.push(t);
}
function takePurgeable(): string {
  fixed.replenishing.push(addPurgeable());
  const id = fixed.purgeable.shift();
  if (!id) throw new Error('no trashed thread left for a PurgeThread base request');
  return id;
}

function baseBody(route: Route): Record<string, unknown> {
  const t = route.input.typeName;
  const bodies: Record<string, Record<string, unknown>> = {
    'threads.CreateThreadRequest': { group_id: fixed.group, topic: 'topic' },
    'threads.ReadThreadRequest': { id: fixed.thread, group_id: fixed.group },
    'threads.UpdateThreadRequest': { id: fixed.thread, topic: 'topic' },
    'threads.DeleteThreadRequest': { id: 'absent-thread' },
    'threads.ListThreadsRequest': { group_id: fixed.group },
    'threads.CreateMessageRequest': { thread_id: fixed.thread, author_id: 'a', text: 'hello' },
    'threads.ListMessagesRequest': { thread_id: fixed.thread },
    'threads.RecentMessagesRequest': { thread_ids: [fixed.thread] },
    'chats.CreateChatRequest': { user_ids: ['u1', 'u2'] },
    'chats.SendMessageRequest': { chat_id: fixed.chat, author_id: 'a', text: 'hello' },
    'chats.ListMessagesRequest': { chat_id: fixed.chat },
    'chats.DeleteChatRequest': { id: 'absent-chat' },
    'streams.CreateConversationRequest': { group_id: fixed.group, topic: 'topic' },
    'streams.ReadConversationRequest': { id: fixed.conv },
    'streams.UpdateConversationRequest': { id: fixed.conv, topic: 'topic' },
    'streams.DeleteConversationRequest': { id: 'absent-conversation' },
    'streams.ListConversationsRequest': { group_id: fixed.group },
    'streams.CreateMessageRequest': { conversation_id: fixed.conv, author_id: 'a', text: 'hello' },
    'streams.ListMessagesRequest': { conversation_id: fixed.conv },
    'streams.RecentMessagesRequest': { conversation_ids: [fixed.conv] },
  };
  // The lifecycle methods, on the three APIs alike.
  const refs = { threads: ['thread_id', 'thread'], chats: ['chat_id', 'chat'], streams: ['conversation_id', 'conv'] } as const;
  for (const [pkg, [field, k]] of Object.entries(refs)) {
    const live = { [field]: fixed[k], id: fixed.msg[k] };
    const purged = { [field]: fixed[k], id: fixed.purged[k] };
    bodies[`${pkg}.UpdateMessageRequest`] = { ...live, text: 'edited', metadata: { k: 'v' } };
    bodies[`${pkg}.ReadMessageRequest`] = live;
    bodies[`${pkg}.RestoreMessageRequest`] = live;
    bodies[`${pkg}.DeleteMessageRequest`] = purged;
    bodies[`${pkg}.PurgeMessageRequest`] = purged;
    bodies[`${pkg}.MarkReadRequest`] = { [field]: fixed[k], user_id: 'u1', message_id: fixed.msg[k] };
  }
  bodies['chats.ListChatsRequest'] = { user_id: 'u1' };
  bodies['chats.GetUnreadRequest'] = { user_id: 'u1' };
  bodies['threads.GetUnreadRequest'] = { user_id: 'u1', group_id: fixed.group };
  bodies['streams.GetUnreadRequest'] = { user_id: 'u1', group_id: fixed.group };
  bodies['chats.ReadChatRequest'] = { id: fixed.chat, user_id: 'u1' };
  bodies['threads.AddParticipantsRequest'] = { thread_id: fixed.thread, participants: [{ id: 'p1', role: 'read_write' }] };
  bodies['threads.RemoveParticipantsRequest'] = { thread_id: fixed.thread, participant_ids: ['absent'] };
  bodies['threads.ListParticipantsRequest'] = { thread_id: fixed.thread };
  // The trash: a thread of its own, so no generated call ever trashes the fixed thread.
  bodies['threads.SoftDeleteThreadRequest'] = { id: fixed.trashed };
  bodies['threads.RestoreThreadRequest'] = { id: fixed.trashed };
  bodies['threads.PurgeThreadRequest'] = { id: t === 'threads.PurgeThreadRequest' ? takePurgeable() : '' };
  const b = bodies[t];
  if (!b) throw new Error(`no valid base request for ${t}: add one`);
  return { ...b };
}

// ---------------------------------------------------------------------------
// Generators.

const LONE_SURROGATES = ['\ud800', 'a\udfffb', '\udbff\udbff', 'x\ud83d']; // JSON.stringify writes them as \udXXX escapes
const nasty = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '', ' ', 'a', 'x'.repeat(256), 'x'.repeat(257), 'é'.repeat(128), 'é'.repeat(129), '\u0000', '\u0000\u0001\u001f\u007f',
      '\u2028\u2029', '\ufeff', '{a}', ':', '*', '%00', '%', '\\', '"', '</script>', '__proto__', 'constructor',
      '😀'.repeat(64), '😀'.repeat(65), 'x'.repeat(1024), 'x'.repeat(1025), 'x'.repeat(16384), 'x'.repeat(16385), 'x'.repeat(100_000),
      ...LONE_SURROGATES,
    ),
  },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), maxLength: 20 }) },
);

/** Ids of things that exist, and a few that collide on purpose. */
function idPool(route: Route): fc.Arbitrary<string> {
  // Never delete the fixed containers: later runs would only meet NOT_FOUND.
  if (/Delete|PurgeThread/.test(route.method.name)) return fc.constantFrom('absent', 'g1', 'id-1');
  return fc.constantFrom(fixed.thread, fixed.chat, fixed.conv, fixed.group, 'dup-1', 'dup-2', 'u1', 'u2', 'g1', 'id-1');
}

/**
 * A participant, good or bad field by field. Its ids are never an author id the other generators
 * use (a read_only participant's CreateMessage is 403 READ_ONLY, not what those runs check).
 */
const participant = fc.record(
  {
    id: fc.constantFrom('p1', 'p2', 'p3', '', 'x'.repeat(257), '\ud800'),
    type: fc.constantFrom('', 'user', 'agent', 'tool', 'robot', 'USER'),
    name: fc.constantFrom('', 'Pat', 'x'.repeat(1025)),
    role: fc.constantFrom('', 'read_write', 'read_only', 'owner'),
    metadata: fc.constantFrom({}, { k: 'v' }, { '': 'x' }),
  },
  { requiredKeys: [] },
);

const strings = (route: Route) => fc.oneof({ weight: 3, arbitrary: nasty }, { weight: 2, arbitrary: idPool(route) });

const int64Values = fc.oneof(
  fc.constantFrom<unknown>(
    0, 1, -1, 25, 100, 101, 1000, 1001, 100_000, 100_001, -0, 1.5, -0.5, 1e-7, 1e3, 1e300, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 2 ** 65, -(2 ** 64),
    '0', '1', '-1', '25', '1000', '9007199254740993', '9223372036854775807', '9223372036854775808', '-9223372036854775808',
    '-9223372036854775809', '18446744073709551615', '18446744073709551616', '340282366920938463463374607431768211456',
    '1.5', '1e3', ' 1', '0x10', '', 'abc', null,
  ),
  fc.integer().map((n) => n as unknown),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => String(n) as unknown),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n as unknown),
);
const int32Values = fc.oneof(
  fc.constantFrom<unknown>(0, 1, -1, 25, 100, 101, 1000, 1001, 2147483647, 2147483648, -2147483648, -2147483649, 1.5, 1e10, 2 ** 64, '7', '-7', '1.5', 'x', null),
  fc.integer().map((n) => n as unknown),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => n as unknown),
);
const timestamps = fc.oneof(
  fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString() as unknown),
  fc.constantFrom<unknown>(
    '1970-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '2026-01-02T15:04:05.123456789+01:00',
    '2026-01-02t15:04:05z', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '10000-01-01T00:00:00Z', '2026-01-02T15:04:05.1234567891Z',
    'yesterday', '', '0', null,
  ),
);

/** Deeply nested arrays or objects, balanced (valid JSON). */
const nested = (depth: number, kind: 'array' | 'object'): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
};
/** Any JSON value (small), with some nesting. */
const anyJson = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  // Within the depth limit (32 levels, the body's own included); deeper JSON has its own test.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 30 }), fc.constantFrom<'array' | 'object'>('array', 'object')).map(([d, k]) => nested(d, k)) },
);

/** Values of the right JSON type for the field (good or bad values within that type). */
function typedValue(f: DescField, route: Route): fc.Arbitrary<unknown> {
  switch (kindOf(f)) {
    case 'string':
      return strings(route);
    case 'StringValue':
      return fc.oneof(strings(route), fc.constant(null));
    case 'int64':
      return int64Values;
    case 'Int32Value':
      return int32Values;
    case 'Timestamp':
      return timestamps;
    case 'map':
      return fc.oneof(
        fc.dictionary(fc.oneof(strings(route), fc.constantFrom('k', 'lang', '')), fc.oneof(strings(route), fc.constant('')), { maxKeys: 8 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.constant('v'), { minKeys: 60, maxKeys: 70 }), // around MAX_METADATA_KEYS
        fc.constant({ big: 'x'.repeat(16_400) }), // over MAX_METADATA_BYTES
        fc.constant(null),
      );
    case 'participants':
      return fc.oneof(fc.array(participant, { maxLength: 4 }), fc.array(participant, { minLength: 99, maxLength: 102 }), fc.constant(null));
    case 'strings':
      return fc.oneof(
        fc.array(strings(route), { maxLength: 8 }),
        fc.array(idPool(route), { minLength: 2, maxLength: 6 }), // duplicated ids
        fc.array(fc.constant('x'), { minLength: 99, maxLength: 102 }), // around MAX_IDS_PER_CALL, all the same
        fc.array(fc.string({ maxLength: 3 }), { minLength: 99, maxLength: 102 }),
        fc.array(fc.constantFrom('x'.repeat(256), 'x'.repeat(257), '\ud800'), { maxLength: 110 }),
        fc.constant(null),
      );
  }
}

/** Values of a wrong JSON type for the field (shallow: deep nesting has its own test below). */
function wrongValue(f: DescField): fc.Arbitrary<unknown> {
  const any = fc.constantFrom<unknown>(true, false, {}, { value: 'x' }, [], [1], ['a', ['b']], { a: { b: [] } }, nested(50, 'array'), nested(50, 'object'));
  switch (kindOf(f)) {
    case 'string':
    case 'StringValue':
      return fc.oneof(any, fc.constantFrom<unknown>(0, 1, -1, 1.5, 2 ** 64, 1e300));
    case 'int64':
    case 'Int32Value':
      return fc.oneof(any, fc.constantFrom<unknown>('abc', 'one', '1x', '--1', 1.5, -0.25, 1e-7, 2 ** 64, -(2 ** 64), '18446744073709551616', '-9223372036854775809', 1e300));
    case 'Timestamp':
      return fc.oneof(any, fc.constantFrom<unknown>(0, 1795452858, -1, 'yesterday', '2026-13-01T00:00:00Z', '2026-01-02 15:04:05', '1795452858'));
    case 'strings':
      return fc.oneof(any.filter((v) => !Array.isArray(v)), fc.constantFrom<unknown>('a', 1, [1], [null], [{}], [[]], [true], ['a', 2]));
    case 'map':
      return fc.constantFrom<unknown>('a', 1, true, [], ['a'], { a: 1 }, { a: true }, { a: {} }, { a: ['x'] }, { a: null });
    case 'participants':
      return fc.oneof(any.filter((v) => !Array.isArray(v)), fc.constantFrom<unknown>('a', 1, [1], ['p1'], [[]], [true], [{ id: 1 }], [{ role: {} }]));
  }
}

const nameStyle = fc.constantFrom<'snake' | 'camel' | 'both'>('snake', 'snake', 'camel', 'camel', 'both');

/** A body for `route`: each field absent, typed, or of a wrong type, under either name (or both); unknown fields. */
function bodyFor(route: Route): fc.Arbitrary<Record<string, unknown>> {
  const fields = route.input.fields.map((f) =>
    fc.record({
      value: fc.option(fc.oneof({ weight: 5, arbitrary: typedValue(f, route) }, { weight: 1, arbitrary: wrongValue(f) }), { nil: undefined, freq: 4 }),
      style: nameStyle,
    }),
  );
  const unknown = fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'Id', 'THREAD_ID', 'thread-id')), anyJson, { maxKeys: 3 });
  return fc.tuple(fc.tuple(...fields), unknown).map(([values, extra]) => {
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(extra)) Object.defineProperty(body, k, { value: v, enumerable: true, writable: true, configurable: true });
    route.input.fields.forEach((f, i) => {
      const { value, style } = values[i];
      if (value === undefined) return;
      if (style !== 'camel') body[f.name] = value;
      if (style !== 'snake') body[f.jsonName] = value;
    });
    return body;
  });
}

// ---------------------------------------------------------------------------
// Checks.

const DOCUMENTED_IDS: Record<number, ReadonlySet<string>> = {
  400: new Set([
    'MISSING_ID', 'MISSING_GROUP_ID', 'MISSING_TOPIC', 'MISSING_AUTHOR_ID', 'MISSING_TEXT', 'MISSING_THREAD_ID', 'MISSING_THREAD_IDS',
    'MISSING_CHAT_ID', 'MISSING_USER_IDS', 'MISSING_USER_ID', 'MISSING_CONVERSATION_ID', 'MISSING_CONVERSATION_IDS', 'INVALID_ARGUMENT', 'FIELD_TOO_LONG',
    'TOO_MANY_IDS', 'INVALID_STRING', 'INVALID_JSON', 'INVALID_CURSOR', 'MISSING_PARTICIPANTS', 'MISSING_PARTICIPANT_IDS',
  ]),
  401: new Set(['UNAUTHORIZED']),
  403: new Set(['FORBIDDEN']),
  404: new Set(['NOT_FOUND']),
  409: new Set(['MESSAGE_DELETED', 'MESSAGE_PURGED']),
  413: new Set(['PAYLOAD_TOO_LARGE']),
  415: new Set(['UNSUPPORTED_MEDIA_TYPE']),
};

interface Expect {
  /** Statuses allowed besides 200. */
  allowed?: number[];
  /** When the body is a JSON object: a 400 must name one of these fields in its detail. */
  fields?: string[];
}

/** Throws (with the request shown) unless the answer is 200 or a documented error of the right shape. */
function checkAnswer(route: Route, a: RawAnswer, body: string | Uint8Array, exp: Expect = {}): void {
  const allowed = exp.allowed ?? [400, 404, 413];
  const show = () => `${route.httpPath} ${typeof body === 'string' ? JSON.stringify(body.slice(0, 300)) : `<${body.length} bytes>`} → ${a.status} ${a.text.slice(0, 300)}`;
  if (a.status === 200) {
    if (typeof a.body !== 'object' || a.body === null || Array.isArray(a.body)) throw new Error(`200 without a JSON object: ${show()}`);
    return;
  }
  if (!allowed.includes(a.status)) throw new Error(`undocumented status: ${show()}`);
  const problems = errorShapeProblems(a);
  if (problems.length) throw new Error(`bad error body (${problems.join('; ')}): ${show()}`);
  if (!DOCUMENTED_IDS[a.status]?.has(a.body.id)) throw new Error(`undocumented id ${a.body.id} for ${a.status}: ${show()}`);
  if (a.status === 400 && exp.fields && !exp.fields.some((f) => (a.body.detail as string).includes(f))) {
    throw new Error(`400 does not name a field (${exp.fields.join(', ')}): ${show()}`);
  }
}

const post = (route: Route, body: string | Uint8Array, headers: Record<string, string> = AUTH) =>
  send(gw.url, route.httpPath, { body, headers: { 'content-type': 'application/json', ...headers }, timeoutMs: 10_000 });

const byteLength = (b: string | Uint8Array) => (typeof b === 'string' ? Buffer.byteLength(b) : b.length);

// ---------------------------------------------------------------------------

it('every route has a valid base request that answers 200 (the generators below start from these)', async () => {
  expect(ROUTES.length).toBeGreaterThanOrEqual(28); // 20 methods, and the 8 Streams ones again under /protobuf/Streams
  for (const route of ROUTES) {
    route.input.fields.forEach(kindOf); // every field kind has generators
    const a = await post(route, JSON.stringify(baseBody(route)));
    expect([route.httpPath, a.status, a.text]).toEqual([route.httpPath, 200, a.text]);
  }
});

describe.each(ROUTES.map((r) => [r.httpPath, r] as const))('%s', (_path, route) => {
  it('generated bodies: 200 or a documented 4xx naming a field, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(bodyFor(route), async (obj) => {
        const body = JSON.stringify(obj);
        const a = await post(route, body);
        checkAnswer(route, a, body, { fields: namesOf(route.input), allowed: byteLength(body) > BODY_LIMIT ? [413] : [400, 404] });
      }),
      { numRuns: 40 },
    );
  });
});

it('one field of a wrong JSON type in an otherwise valid request: 400 INVALID_JSON naming that field', async () => {
  const cases = fc.oneof(
    ...ROUTES.filter((r) => r.input.fields.length > 0).map((route) =>
      fc.constantFrom(...route.input.fields).chain((f) => fc.tuple(fc.constant(route), fc.constant(f), wrongValue(f), fc.boolean())),
    ),
  );
  await fc.assert(
    fc.asyncProperty(cases, async ([route, f, value, camel]) => {
      const obj = baseBody(route);
      delete obj[f.name];
      obj[camel ? f.jsonName : f.name] = value;
      const body = JSON.stringify(obj);
      const a = await post(route, body);
      checkAnswer(route, a, body, { allowed: [400], fields: [f.name] });
      expect(a.status).toBe(400);
      expect(a.body.id).toBe('INVALID_JSON');
    }),
    { numRuns: 300 },
  );
});

it('int fields: negative, beyond 2^63 and 2^64, and non-integer values are 400 naming the field', async () => {
  const intFields = ROUTES.flatMap((route) => route.input.fields.filter((f) => ['int64', 'Int32Value'].includes(kindOf(f))).map((f) => [route, f] as const));
  const bad = fc.constantFrom<unknown>(
    -1, -100, -(2 ** 31), -(2 ** 53), '-1', '-9223372036854775808', 2 ** 31, 2 ** 40, 2 ** 63, 2 ** 64, 2 ** 70, 1e21,
    '2147483648', '9223372036854775807', '9223372036854775808', '18446744073709551615', '18446744073709551616', '99999999999999999999999999',
    1.5, 0.1, -0.5, 2 ** 64 + 0.5, '1.5', '0.1',
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...intFields), bad, fc.boolean(), async ([route, f], value, camel) => {
      const obj = baseBody(route);
      obj[camel ? f.jsonName : f.name] = value;
      const body = JSON.stringify(obj);
      const a = await post(route, body);
      checkAnswer(route, a, body, { allowed: [400], fields: [f.name] });
      expect(a.status).toBe(400);
    }),
    { numRuns: 150 },
  );
});

it('a field given under both its snake_case and lowerCamelCase names is 400 naming it', async () => {
  const twoNamed = ROUTES.flatMap((route) => route.input.fields.filter((f) => f.name !== f.jsonName).map((f) => [route, f] as const));
  for (const [route, f] of twoNamed) {
    const obj = baseBody(route);
    const v = obj[f.name] ?? (kindOf(f) === 'strings' ? ['x'] : kindOf(f) === 'Timestamp' ? '2026-01-02T15:04:05Z' : kindOf(f) === 'string' ? 'x' : kindOf(f) === 'map' ? { k: 'v' } : 5);
    obj[f.name] = v;
    obj[f.jsonName] = v;
    const body = JSON.stringify(obj);
    const a = await post(route, body);
    checkAnswer(route, a, body, { allowed: [400], fields: [f.name] });
    expect([route.httpPath, f.name, a.status]).toEqual([route.httpPath, f.name, 400]);
  }
});

it('lone surrogates as \\ud800 escapes in the raw JSON text: 400 INVALID_STRING naming the field', async () => {
  const stringFields = ROUTES.flatMap((route) => route.input.fields.filter((f) => ['string', 'StringValue', 'strings'].includes(kindOf(f))).map((f) => [route, f] as const));
  const escapes = fc.constantFrom('\\ud800', 'a\\udfffb', '\\udbff\\udbff', '\\ud83d', 'x\\uDC00y', '\\ud83d\\ud83d\\ude00');
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...stringFields), escapes, async ([route, f], esc) => {
      const obj = baseBody(route);
      delete obj[f.name];
      const literal = kindOf(f) === 'strings' ? `["ok","${esc}"]` : `"${esc}"`;
      const rest = JSON.stringify(obj).slice(1, -1);
      const body = `{${rest}${rest ? ',' : ''}"${f.name}":${literal}}`;
      const a = await post(route, body);
      checkAnswer(route, a, body, { allowed: [400], fields: [f.name] });
      expect(a.body?.id).toBe('INVALID_STRING');
    }),
    { numRuns: 80 },
  );
});

it('fields the protos do not know are ignored, whatever they hold within the depth limit (a valid request stays 200)', async () => {
  const byPath = new Map(ROUTES.map((r) => [r.httpPath, r]));
  const known = new Set(ROUTES.flatMap((r) => namesOf(r.input)));
  const key = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', '__proto__', 'constructor', 'Thread_Id', 'THREADID', 'id ', 'text\u0000')).filter((k) => !known.has(k));
  const value = fc.oneof(
    { weight: 3, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(...LONE_SURROGATES, ['ok', '\udc00'], { deeper: ['\ud800'] }, 'x'.repeat(100_000), nested(30, 'array'), nested(30, 'object')) },
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...byPath.keys()), fc.dictionary(key, value, { minKeys: 1, maxKeys: 3 }), async (path, extra) => {
      const route = byPath.get(path)!;
      const obj = baseBody(route);
      for (const [k, v] of Object.entries(extra)) Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
      const body = JSON.stringify(obj);
      const a = await post(route, body);
      checkAnswer(route, a, body, { allowed: [] });
    }),
    { numRuns: 150 },
  );
});

it('bodies that are not a JSON object: 400 INVALID_JSON (an empty body is {})', async () => {
  const raw = fc.oneof(
    fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)).map((v) => JSON.stringify(v)),
    fc.constantFrom(
      'null', 'true', '0', '-1e999', '"str"', '[]', '[{}]', '{', '}', '{"a":', '{"a":1,}', "{'a':1}", '{a:1}', 'NaN', 'Infinity',
      '{"a":1}{"b":2}', '{"a":1} x', '\u0000', '[', ']', '"\\ud800"', '{"text":"\\x41"}', '{"text":"\\u12"}', '{"text":"a\nb"}',
      '{"text":"\u0001"}', '\ufeff', '//{}', '/*x*/{}', '{"a":1e99999}', '{"a":-}', '01', '{"a":01}',
    ),
    fc.string({ maxLength: 30 }),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ROUTES), raw, async (route, body) => {
      const a = await post(route, body);
      let parsed: unknown = Symbol('not json');
      try {
        // As the gateway reads it: one leading BOM dropped, empty means {}.
        const text = body.replace(/^\ufeff/, '');
        parsed = text === '' ? {} : JSON.parse(text);
      } catch {
        // stays a symbol
      }
      const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
      if (isObject) return checkAnswer(route, a, body, { fields: namesOf(route.input) });
      checkAnswer(route, a, body, { allowed: [400] });
      expect([body, a.status, a.body?.id]).toEqual([body, 400, 'INVALID_JSON']);
    }),
    { numRuns: 250 },
  );
});

it('random bytes, and invalid UTF-8 inside otherwise valid bodies: 200 or 400, never 5xx', async () => {
  const invalidUtf8 = fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xfe, 0xff, 0xff]);
  const stringFields = ROUTES.flatMap((route) => route.input.fields.filter((f) => kindOf(f) === 'string').map((f) => [route, f] as const));
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.tuple(fc.constantFrom(...ROUTES), fc.uint8Array({ maxLength: 400 })).map(([route, bytes]) => [route, Buffer.from(bytes)] as const),
        fc.tuple(fc.constantFrom(...stringFields), invalidUtf8, fc.string({ maxLength: 5 })).map(([[route, f], bad, around]) => {
          const obj = baseBody(route);
          delete obj[f.name];
          const rest = JSON.stringify(obj).slice(1, -1);
          const head = Buffer.from(`{${rest}${rest ? ',' : ''}"${f.name}":${JSON.stringify(around).slice(0, -1)}`);
          return [route, Buffer.concat([head, Buffer.from(bad), Buffer.from('"}')])] as const;
        }),
      ),
      async ([route, bytes]) => {
        const a = await post(route, bytes);
        checkAnswer(route, a, bytes, { allowed: [400, 404] });
      },
    ),
    { numRuns: 250 },
  );
});

it('huge bodies: over the limit 413 (also when compressed below it), at the limit an answer naming a field', async () => {
  const route = ROUTES.find((r) => r.httpPath === '/threads/Threads/CreateMessage')!;
  const pad = (n: number) => JSON.stringify({ ...baseBody(route), text: 'x'.repeat(n) });
  const over = pad(BODY_LIMIT);
  let a = await post(route, over);
  checkAnswer(route, a, over, { allowed: [413] });
  a = await post(route, gzipSync(over), { ...AUTH, 'content-encoding': 'gzip' });
  checkAnswer(route, a, over, { allowed: [413] });
  const spaces = gzipSync(Buffer.alloc(8 * BODY_LIMIT, ' '));
  a = await post(route, spaces, { ...AUTH, 'content-encoding': 'gzip' });
  checkAnswer(route, a, spaces, { allowed: [413] });
  const under = pad(BODY_LIMIT - 200);
  a = await post(route, under);
  checkAnswer(route, a, under, { allowed: [400], fields: ['text'] });
  expect(a.body.id).toBe('FIELD_TOO_LONG');
  // 101 ids of 256 bytes, each character escaped: under 1 MiB, TOO_MANY_IDS.
  const recent = ROUTES.find((r) => r.httpPath === '/threads/Threads/RecentMessages')!;
  const ids = '"' + '\\u0078'.repeat(256) + '"';
  const many = `{"thread_ids":[${Array(101).fill(ids).join(',')}]}`;
  a = await post(recent, many);
  checkAnswer(recent, a, many, { allowed: [400], fields: ['thread_ids'] });
  expect(a.body.id).toBe('TOO_MANY_IDS');
});

it('deep JSON, 10,000 levels: 400 INVALID_JSON wherever it is (the body, a known field’s value naming it, an unknown field), before it is parsed; never 5xx', async () => {
  const DEPTH = 10_000;
  const arrays = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
  const objects = '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH);
  const failures: string[] = [];
  const attempt = async (route: Route, what: string, body: string, exp: Expect) => {
    const a = await post(route, body);
    try {
      checkAnswer(route, a, body, exp);
    } catch {
      failures.push(`${route.httpPath} ${what} → ${a.status} ${a.body?.id ?? a.text.slice(0, 80)}`);
    }
  };
  // One route per request type (the /protobuf/Streams aliases decode the same messages).
  const oneEach = [...new Map(ROUTES.map((r) => [r.input.typeName, r])).values()];
  for (const route of oneEach) {
    await attempt(route, 'body [×10000 (unbalanced)', '['.repeat(DEPTH), { allowed: [400] });
    await attempt(route, 'body [[…]] ×10000', arrays, { allowed: [400] }); // balanced: not an object
    // Under an unknown field too: the depth is checked before anything is parsed.
    await attempt(route, 'body {"a":{"a":…}} ×10000', objects, { allowed: [400] });
    const base = JSON.stringify(baseBody(route)).slice(1, -1);
    await attempt(route, 'unknown_field: [[…]] ×10000', `{${base},"unknown_field":${arrays}}`, { allowed: [400] });
    for (const f of route.input.fields) {
      const obj = baseBody(route);
      delete obj[f.name];
      const rest = JSON.stringify(obj).slice(1, -1);
      for (const [kind, deep] of [['[[…]]', arrays], ['{"a":…}', objects]]) {
        await attempt(route, `${f.name}: ${kind} ×10000`, `{${rest}${rest ? ',' : ''}"${f.name}":${deep}}`, { allowed: [400], fields: [f.name] });
      }
    }
  }
  // A summary, not 200 lines: how many of the cases failed, and the first few.
  expect({ failed: failures.length, first: failures.slice(0, 12) }).toEqual({ failed: 0, first: [] });
});

it('charsets and Content-Encodings: 200, 400, 413 or 415, never 5xx; a body that is really compressed is read', async () => {
  const encodings: Record<string, (b: Buffer) => Buffer> = {
    identity: (b) => b,
    gzip: (b) => gzipSync(b),
    deflate: (b) => deflateSync(b),
    br: (b) => brotliCompressSync(b),
  };
  const byPath = new Map(ROUTES.map((r) => [r.httpPath, r]));
  const cases = fc.record({
    path: fc.constantFrom(...byPath.keys()),
    contentType: fc.constantFrom(
      'application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'text/plain', 'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=nope',
      'application/octet-stream', '*/*', ';;;', 'application/json; charset=',
    ),
    encoding: fc.constantFrom(undefined, 'identity', 'gzip', 'deflate', 'br', 'zstd', 'compress', 'gzip, gzip', 'GZIP', 'x-gzip', ''),
    // When true the body really is in that encoding; else it is plain JSON under the header (a lying client).
    honest: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(cases, async ({ path, contentType, encoding, honest }) => {
      const route = byPath.get(path)!;
      const plain = Buffer.from(JSON.stringify(baseBody(route)));
      const encode = encoding !== undefined ? encodings[encoding.toLowerCase()] : undefined;
      const body = honest && encode ? encode(plain) : plain;
      const headers: Record<string, string> = { ...AUTH, 'content-type': contentType };
      if (encoding !== undefined) headers['content-encoding'] = encoding;
      const a = await send(gw.url, route.httpPath, { body, headers, timeoutMs: 10_000 });
      checkAnswer(route, a, body, { allowed: [400, 404, 415] });
      if (honest && encode && /^application\/json(; charset=utf-8)?$/i.test(contentType)) expect([route.httpPath, encoding, a.status]).toEqual([route.httpPath, encoding, 200]);
    }),
    { numRuns: 200 },
  );
});

it('auth headers varied: 401 without a valid token, 403 for another namespace, 400 for a header that cannot be metadata', async () => {
  type Variant = { headers: Record<string, string>; expect: 'ok' | 401 | 403 | 400 };
  const variants = fc.oneof(
    fc.constantFrom<Variant>(
      { headers: AUTH, expect: 'ok' },
      { headers: { ...AUTH, 'micro-namespace': 'default' }, expect: 'ok' },
      { headers: { authorization: `Bearer ${OTHER_TOKEN}`, 'micro-namespace': 'other' }, expect: 'ok' },
      { headers: { authorization: `Bearer ${OTHER_TOKEN}` }, expect: 'ok' },
      { headers: { ...AUTH, 'micro-namespace': 'other' }, expect: 403 },
      { headers: { authorization: `Bearer ${OTHER_TOKEN}`, 'micro-namespace': 'default' }, expect: 403 },
      { headers: {}, expect: 401 },
      { headers: { authorization: '' }, expect: 401 },
      { headers: { authorization: 'Bearer' }, expect: 401 },
      { headers: { authorization: 'Bearer ' }, expect: 401 },
      { headers: { authorization: 'Basic dGVzdDp0ZXN0' }, expect: 401 },
      { headers: { authorization: TEST_TOKEN }, expect: 401 },
      { headers: { authorization: `Bearer ${TEST_TOKEN}x` }, expect: 401 },
      { headers: { authorization: `Bearer ${TEST_TOKEN.slice(0, -1)}` }, expect: 401 },
      { headers: { authorization: `Bearer ${'x'.repeat(8000)}` }, expect: 401 },
      { headers: { authorization: `Bearer t\u00f6ken-with-latin1` }, expect: 400 },
      { headers: { ...AUTH, 'micro-namespace': 'd\u00e9fault' }, expect: 400 },
    ),
    fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 70 }).map(
      (ns): Variant => ({ headers: { ...AUTH, 'micro-namespace': ns }, expect: ns === 'default' ? 'ok' : 403 }),
    ),
    fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 70 }).map(
      (t): Variant => ({ headers: { authorization: `Bearer ${t}` }, expect: t === TEST_TOKEN || t === OTHER_TOKEN ? 'ok' : 401 }),
    ),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ROUTES), variants, async (route, v) => {
      const body = JSON.stringify(baseBody(route));
      const a = await post(route, body, v.headers);
      checkAnswer(route, a, body, { allowed: v.expect === 'ok' ? [404] : [v.expect] });
      if (v.expect !== 'ok') expect([JSON.stringify(v.headers).slice(0, 120), a.status]).toEqual([JSON.stringify(v.headers).slice(0, 120), v.expect]);
      if (v.expect === 400) expect(a.body.detail).toMatch(/authorization|micro-namespace/);
    }),
    { numRuns: 200 },
  );
});

it('repeated client message ids were stored once; every container has unique message ids', async () => {
  const lists = [
    ['/threads/Threads/ListMessages', { thread_id: fixed.thread }],
    ['/chats/Chats/ListMessages', { chat_id: fixed.chat }],
  ] as const;
  for (const [path, req] of lists) {
    const a = await send(gw.url, path, { body: JSON.stringify({ ...req, limit: 1000 }), headers: AUTH });
    expect(a.status).toBe(200);
    const ids = (a.body.messages as { id: string }[]).map((m) => m.id);
    expect(ids.length).toBeLessThan(1000);
    expect(new Set(ids).size).toBe(ids.length);
  }
  const a = await send(gw.url, '/streams/Streams/ListMessages', { body: JSON.stringify({ conversation_id: fixed.conv, limit: 1000 }), headers: AUTH });
  const ids = (a.body.messages as { id: string }[]).map((m) => m.id);
  expect(new Set(ids).size).toBe(ids.length);
});

it('afterwards the gateway is healthy and the store is consistent', async () => {
  const h = await send(gw.url, '/healthz', { method: 'GET', timeoutMs: 5000 });
  expect([h.status, h.body]).toEqual([200, { status: 'SERVING' }]);
  await Promise.all(fixed.replenishing);
  expect(await storeProblems(redis.client())).toEqual([]);
});
