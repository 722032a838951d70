/**
 * Every error class a JSON caller can meet, with its HTTP status and body:
 * first the one mapping function on its own (table-driven, statuses built the
 * way the service builds them), then each class end to end through a real
 * gateway, service and Redis.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { toServiceError } from '../../src/transports/grpc/status';
import { AppError } from '../../src/core/errors';
import { createLogger } from '../../src/log';
import { freePort } from '../../src/store/embedded';
import { errorFromStatus, httpStatusFromCode, type GrpcFailure } from '../../gateway/errors';
import { bearer, startGateway, type TestGateway } from '../helpers/gateway';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, startService, TEST_TOKEN, type TestService } from '../helpers/service';

const silent = createLogger('silent', 'test');
const fromApp = (e: unknown) => toServiceError(e, silent) as GrpcFailure;

describe('errorFromStatus: gRPC status + ErrorInfo reason → HTTP status and body', () => {
  it.each([
    ['MISSING_TEXT', new AppError('MISSING_TEXT'), 400, { id: 'MISSING_TEXT', code: 400, detail: 'Missing text', status: 'Bad Request' }],
    ['NOT_FOUND', new AppError('NOT_FOUND', 'thread not found'), 404, { id: 'NOT_FOUND', code: 404, detail: 'thread not found', status: 'Not Found' }],
    ['UNAUTHORIZED', new AppError('UNAUTHORIZED'), 401, { id: 'UNAUTHORIZED', code: 401, detail: 'Unauthorized', status: 'Unauthorized' }],
    ['FORBIDDEN', new AppError('FORBIDDEN'), 403, { id: 'FORBIDDEN', code: 403, detail: 'Forbidden', status: 'Forbidden' }],
    ['UNAVAILABLE', new AppError('UNAVAILABLE'), 503, { id: 'UNAVAILABLE', code: 503, detail: 'The store is unavailable, try again', status: 'Service Unavailable' }],
    ['DEADLINE_EXCEEDED', new AppError('DEADLINE_EXCEEDED'), 504, { id: 'DEADLINE_EXCEEDED', code: 504, detail: 'Deadline exceeded', status: 'Gateway Timeout' }],
    ['INTERNAL', new AppError('INTERNAL'), 500, { id: 'INTERNAL', code: 500, detail: 'Internal error', status: 'Internal Server Error' }],
    ['a thrown non-AppError', new Error('secret /etc/passwd at line 3'), 500, { id: 'INTERNAL', code: 500, detail: 'Internal error', status: 'Internal Server Error' }],
  ])('%s', (_name, err, httpStatus, body) => {
    const e = errorFromStatus(fromApp(err));
    expect(e.status).toBe(httpStatus);
    expect(e.body).toEqual(body);
    expect(e.headers).toEqual({});
  });

  it('RATE_LIMITED is 429 with Retry-After from google.rpc.RetryInfo, rounded up to whole seconds', () => {
    const e = errorFromStatus(fromApp(new AppError('RATE_LIMITED', undefined, { retryAfterMs: 1200 })));
    expect(e).toEqual({
      status: 429,
      headers: { 'retry-after': '2' },
      body: { id: 'RATE_LIMITED', code: 429, detail: 'Rate limit exceeded', status: 'Too Many Requests' },
    });
  });

  it('a status without ErrorInfo (from grpc-js, not the service) gets the code’s id; a 5xx never echoes its details', () => {
    const raw = (code: status, details: string): GrpcFailure => ({ code, details, metadata: new Metadata() });
    expect(errorFromStatus(raw(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 10.0.0.7:50051')).body).toEqual({
      id: 'UNAVAILABLE', code: 503, detail: 'The service is unavailable, try again', status: 'Service Unavailable',
    });
    expect(errorFromStatus(raw(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 0.2s')).body.id).toBe('DEADLINE_EXCEEDED');
    expect(errorFromStatus(raw(status.UNAUTHENTICATED, 'no token')).body).toMatchObject({ id: 'UNAUTHORIZED', code: 401 });
    expect(errorFromStatus(raw(status.PERMISSION_DENIED, 'nope')).body).toMatchObject({ id: 'FORBIDDEN', code: 403 });
    expect(errorFromStatus(raw(status.RESOURCE_EXHAUSTED, 'Received message larger than max')).body).toMatchObject({ code: 429 });
    for (const code of [status.UNKNOWN, status.CANCELLED, status.INTERNAL, status.DATA_LOSS, status.UNIMPLEMENTED]) {
      expect(errorFromStatus(raw(code, 'Error: boom\n    at handler (/srv/app.js:1:1)')).body).toEqual({
        id: 'INTERNAL', code: 500, detail: 'Internal error', status: 'Internal Server Error',
      });
    }
  });

  it('maps exactly the codes of the error table', () => {
    const table = Object.fromEntries(Object.entries(status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [k, httpStatusFromCode(v as number)]));
    expect(table).toEqual({
      OK: 500, CANCELLED: 500, UNKNOWN: 500, INVALID_ARGUMENT: 400, DEADLINE_EXCEEDED: 504, NOT_FOUND: 404,
      ALREADY_EXISTS: 500, PERMISSION_DENIED: 403, RESOURCE_EXHAUSTED: 429, FAILED_PRECONDITION: 400, ABORTED: 500,
      OUT_OF_RANGE: 500, UNIMPLEMENTED: 500, INTERNAL: 500, UNAVAILABLE: 503, DATA_LOSS: 500, UNAUTHENTICATED: 401,
    });
  });
});

describe('through the gateway', () => {
  let redis: TestRedis;
  let svc: TestService;
  let gw: TestGateway;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startService(redis.url);
    gw = await startGateway(svc, { bodyLimitBytes: 64 * 1024 }, bearer(TEST_TOKEN));
  });
  afterAll(async () => {
    await gw?.stop();
    await svc?.stop();
    await redis?.stop();
  });

  const bad = (id: string, detail: string | RegExp) => ({
    status: 400,
    body: { id, code: 400, detail: typeof detail === 'string' ? detail : expect.stringMatching(detail), status: 'Bad Request' },
  });

  it.each([
    ['/threads/Threads/CreateMessage', { thread_id: 't', author_id: 'a' }, 'MISSING_TEXT', 'Missing text'],
    ['/threads/Threads/CreateThread', {}, 'MISSING_GROUP_ID', 'Missing group_id'],
    ['/threads/Threads/RecentMessages', {}, 'MISSING_THREAD_IDS', 'Missing thread_ids or group_id'],
    ['/chats/Chats/CreateChat', { user_ids: ['only-one'] }, 'MISSING_USER_IDS', /^Missing user_ids/],
    ['/chats/Chats/SendMessage', { author_id: 'a', text: 'x' }, 'MISSING_CHAT_ID', 'Missing chat_id'],
    ['/streams/Streams/CreateMessage', { author_id: 'a', text: 'x' }, 'MISSING_CONVERSATION_ID', 'Missing conversation_id'],
    ['/protobuf/Streams/RecentMessages', {}, 'MISSING_CONVERSATION_IDS', 'Missing conversation_ids'],
  ])('400 missing field: %s %j → %s', async (path, body, id, detail) => {
    expect(await gw.post(path, body)).toMatchObject(bad(id, detail));
  });

  it('an empty body is {} (so the service names the missing field)', async () => {
    expect(await gw.request('/threads/Threads/ReadThread')).toMatchObject(bad('MISSING_ID', 'Missing id'));
    expect(await gw.request('/threads/Threads/ReadThread', '')).toMatchObject(bad('MISSING_ID', 'Missing id'));
  });

  it('400 for bad values the service checks, naming the field', async () => {
    expect(await gw.post('/threads/Threads/ListMessages', { thread_id: 't', order: 'sideways' })).toMatchObject(
      bad('INVALID_ARGUMENT', /order/),
    );
    // An int64 above 2^53 as a string reaches the service exactly, and is refused there by its range.
    expect(await gw.post('/threads/Threads/ListThreads', { group_id: 'g', limit: '9007199254740993' })).toMatchObject(
      bad('INVALID_ARGUMENT', 'limit must be between 0 and 1000'),
    );
    expect(await gw.post('/threads/Threads/CreateThread', { group_id: 'g', topic: 'x'.repeat(1025) })).toMatchObject(
      bad('FIELD_TOO_LONG', /topic/),
    );
  });

  it('404 NOT_FOUND from the service', async () => {
    expect(await gw.post('/threads/Threads/ReadThread', { id: 'absent' })).toMatchObject({
      status: 404,
      body: { id: 'NOT_FOUND', code: 404, detail: expect.stringMatching(/not found/), status: 'Not Found' },
    });
    expect((await gw.post('/chats/Chats/SendMessage', { chat_id: 'absent', author_id: 'a', text: 'x' })).status).toBe(404);
  });

  it('401 without a token or with an unknown one; the authorization header reaches the service', async () => {
    const none = await gw.post('/threads/Threads/ListThreads', { group_id: 'g' }, { authorization: '' });
    expect(none).toMatchObject({ status: 401, body: { id: 'UNAUTHORIZED', code: 401, status: 'Unauthorized' } });
    const unknown = await gw.post('/threads/Threads/ListThreads', { group_id: 'g' }, bearer('no-such-token'));
    expect(unknown).toMatchObject({ status: 401, body: { id: 'UNAUTHORIZED', code: 401, status: 'Unauthorized' } });
    expect(unknown.text).not.toContain('no-such-token');
  });

  it('403 when micro-namespace is not the token’s namespace; the header reaches the service', async () => {
    const wrong = await gw.post('/threads/Threads/ListThreads', { group_id: 'g' }, { 'micro-namespace': 'other' });
    expect(wrong).toMatchObject({ status: 403, body: { id: 'FORBIDDEN', code: 403, status: 'Forbidden' } });
    const right = await gw.post('/threads/Threads/ListThreads', { group_id: 'g' }, { 'micro-namespace': 'default' });
    expect(right.status).toBe(200);
  });

  it('another tenant’s token cannot read what this one created (404)', async () => {
    const { body } = await gw.post('/threads/Threads/CreateThread', { group_id: 'mine', topic: 't' });
    expect((await gw.post('/threads/Threads/ReadThread', { id: body.thread.id })).status).toBe(200);
    const theirs = await gw.post('/threads/Threads/ReadThread', { id: body.thread.id }, bearer(OTHER_TOKEN));
    expect(theirs).toMatchObject({ status: 404, body: { id: 'NOT_FOUND' } });
  });

  it('400 for a header that cannot travel as gRPC metadata', async () => {
    const r = await gw.post('/threads/Threads/ListThreads', { group_id: 'g' }, { 'micro-namespace': 'caf\u00e9' });
    expect(r).toMatchObject(bad('INVALID_ARGUMENT', /^Invalid micro-namespace header/));
  });

  it.each([
    ['/threads/Threads/Nope'],
    ['/threads/threads/createthread'], // paths are case-sensitive, as gRPC's are
    ['/threads/Threads/CreateThread/'],
    ['/threads.Threads/CreateThread'],
    ['/'],
  ])('404 unknown path %s, with the error body', async (path) => {
    const r = await gw.post(path, {});
    expect(r).toMatchObject({
      status: 404,
      body: { id: 'NOT_FOUND', code: 404, detail: expect.stringMatching(/^Unknown path/), status: 'Not Found' },
    });
  });

  it.each(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('405 for %s on a route, with Allow: POST', async (method) => {
    const r = await gw.request('/threads/Threads/ListThreads', undefined, { method });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    expect(r.body).toEqual({
      id: 'METHOD_NOT_ALLOWED',
      code: 405,
      detail: `Method ${method} is not allowed on /threads/Threads/ListThreads; use POST`,
      status: 'Method Not Allowed',
    });
  });

  it('405 for POST /healthz', async () => {
    const r = await gw.post('/healthz', {});
    expect(r).toMatchObject({ status: 405, body: { id: 'METHOD_NOT_ALLOWED', code: 405 } });
    expect(r.headers.get('allow')).toBe('GET, HEAD');
  });

  it('413 over the body limit (64 KiB here), under it fine', async () => {
    const over = await gw.post('/threads/Threads/CreateThread', { group_id: 'g', topic: 'x'.repeat(64 * 1024) });
    expect(over).toMatchObject({
      status: 413,
      body: { id: 'PAYLOAD_TOO_LARGE', code: 413, detail: expect.stringMatching(/65536 bytes/), status: 'Payload Too Large' },
    });
    const under = await gw.post('/threads/Threads/CreateThread', { group_id: 'g', topic: 'x'.repeat(1000) });
    expect(under.status).toBe(200);
  });

  it.each([
    ['{"group_id": "g",', /^Malformed JSON/],
    ['{group_id: "g"}', /^Malformed JSON/],
    ['not json', /^Malformed JSON/],
  ])('400 malformed JSON %s', async (raw, detail) => {
    expect(await gw.request('/threads/Threads/ListThreads', raw)).toMatchObject(bad('INVALID_JSON', detail));
  });

  it('the body is read as JSON whatever the Content-Type says (m3o-style curl -d)', async () => {
    const r = await gw.request('/threads/Threads/CreateThread', '{"group_id":"g","topic":"form"}', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r.status).toBe(200);
    expect(r.body.thread.topic).toBe('form');
  });

  it.each([
    ['[]', 'an array'],
    ['"text"', 'a string'],
    ['42', 'a number'],
    ['null', 'null'],
    ['true', 'a boolean'],
  ])('400 for a non-object body %s', async (raw, what) => {
    expect(await gw.request('/threads/Threads/ListThreads', raw)).toMatchObject(
      bad('INVALID_JSON', `The request body must be a JSON object, not ${what}`),
    );
  });

  it.each([
    ['/threads/Threads/ListThreads', { group_id: 5 }, 'group_id', /expected string, got 5/],
    ['/threads/Threads/ListThreads', { group_id: 'g', limit: 'ten' }, 'limit', /expected an integer \(int64\).*got "ten"/],
    ['/threads/Threads/ListThreads', { group_id: 'g', limit: 1.5 }, 'limit', /int64/],
    ['/threads/Threads/ListThreads', { group_id: 'g', limit: true }, 'limit', /got true/],
    ['/threads/Threads/ListThreads', { groupId: { nested: 1 } }, 'group_id', /expected string/],
    ['/threads/Threads/RecentMessages', { thread_ids: 'one' }, 'thread_ids', /expected Array/],
    ['/threads/Threads/RecentMessages', { thread_ids: ['a', 7] }, 'thread_ids', /expected string/],
    ['/streams/Streams/ListMessages', { conversation_id: 'c', sent_before: 'yesterday' }, 'sent_before', /^expected an RFC 3339 string .*, got "yesterday"$/],
    ['/streams/Streams/ListMessages', { conversation_id: 'c', sent_before: 1700000000 }, 'sent_before', /RFC 3339.*got 1700000000$/],
    ['/streams/Streams/ListMessages', { conversation_id: 'c', sent_before: '2026-13-45T99:00:00Z' }, 'sent_before', /RFC 3339/],
    ['/streams/Streams/ListMessages', { conversation_id: 'c', limit: 'many' }, 'limit', /int32/],
    ['/streams/Streams/ListMessages', { conversation_id: 'c', limit: 2 ** 31 }, 'limit', /out of range/],
    ['/streams/Streams/ReadConversation', { id: 'x', group_id: 7 }, 'group_id', /expected string/],
    ['/threads/Threads/ReadThread', { id: 'a', groupId: 'b', group_id: 'c' }, 'group_id', /given twice/],
  ])('400 wrong JSON type: %s %j names %s', async (path, body, field, reason) => {
    const r = await gw.post(path, body);
    expect(r).toMatchObject(bad('INVALID_JSON', new RegExp(`^Invalid value for ${field}: `)));
    expect(r.body.detail.slice(`Invalid value for ${field}: `.length)).toMatch(reason);
  });

  it('400 INVALID_STRING for a lone surrogate, naming the field', async () => {
    const r = await gw.request('/threads/Threads/RecentMessages', '{"thread_ids":["ok","bad\\ud800"]}');
    expect(r).toMatchObject(bad('INVALID_STRING', /thread_ids\[1\]/));
  });

  it('400 INVALID_STRING for a body that is not valid UTF-8 (rather than storing U+FFFD)', async () => {
    const bytes = Buffer.concat([Buffer.from('{"group_id":"g","topic":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    expect(await gw.request('/threads/Threads/CreateThread', bytes)).toMatchObject(bad('INVALID_STRING', 'The request body is not valid UTF-8'));
    const fixed = await gw.request('/threads/Threads/CreateThread', Buffer.from('{"group_id":"g","topic":"café"}'));
    expect(fixed).toMatchObject({ status: 200, body: { thread: { topic: 'café' } } });
  });

  it('fields the protos do not know are ignored, whatever they hold within the depth limit', async () => {
    const r2 = await gw.request('/threads/Threads/ListThreads', `{"group_id":"nobody","x":${'['.repeat(30) + ']'.repeat(30)},"y":"\ud800"}`);
    expect(r2).toMatchObject({ status: 200, body: { threads: [] } });
  });

  it('JSON nested deeper than 32 levels is 400 wherever it is, an unknown field too (checked before parsing)', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const r = await gw.request('/threads/Threads/ListThreads', `{"group_id":"nobody","x":${deep}}`);
    expect(r).toMatchObject(bad('INVALID_JSON', /^Invalid value for x: nested deeper than 32 levels/));
    const known = await gw.request('/threads/Threads/ListThreads', `{"groupId":${deep}}`);
    expect(known).toMatchObject(bad('INVALID_JSON', /^Invalid value for group_id: nested deeper than 32 levels/));
  });

  it('fields the protos do not know are ignored', async () => {
    const r = await gw.post('/threads/Threads/ListThreads', { group_id: 'nobody', shiny_new_field: 1 });
    expect(r).toMatchObject({ status: 200, body: { threads: [] } });
    const odd = await gw.post('/threads/Threads/ListThreads', '{"__proto__":{"group_id":"x"},"constructor":1,"group_id":"nobody"}');
    expect(odd).toMatchObject({ status: 200, body: { threads: [] } });
  });

  it.each([
    [{ 'grpc-timeout': '5 seconds' }, 'grpc-timeout'],
    [{ 'grpc-timeout': '123456789S' }, 'grpc-timeout'],
    [{ 'x-timeout-ms': '-1' }, 'x-timeout-ms'],
    [{ 'x-timeout-ms': 'soon' }, 'x-timeout-ms'],
  ])('400 for a malformed deadline header %j', async (headers, name) => {
    expect(await gw.post('/threads/Threads/ListThreads', { group_id: 'g' }, headers)).toMatchObject(
      bad('INVALID_ARGUMENT', new RegExp(`^Invalid ${name} header`)),
    );
  });

  describe('504 when the deadline passes (Redis paused for writes, so the call hangs)', () => {
    let slow: TestGateway;
    beforeAll(async () => {
      slow = await startGateway(svc, { deadlineMs: 300 }, bearer(TEST_TOKEN));
    });
    afterAll(async () => {
      await redis.client().client('UNPAUSE');
      await slow?.stop();
    });
    const timeout504 = { status: 504, body: { id: 'DEADLINE_EXCEEDED', code: 504, detail: 'Deadline exceeded', status: 'Gateway Timeout' } };

    it.each([
      ['grpc-timeout: 200m', gwOf('main'), { 'grpc-timeout': '200m' }],
      ['x-timeout-ms: 200', gwOf('main'), { 'x-timeout-ms': '200' }],
      ['the default deadline (300 ms here)', gwOf('slow'), {}],
    ])('%s', async (_name, which, headers) => {
      await redis.client().client('PAUSE', 1500, 'WRITE');
      try {
        const started = Date.now();
        const r = await which().post('/threads/Threads/CreateThread', { group_id: 'g', topic: 'slow' }, headers);
        const took = Date.now() - started;
        expect(r).toMatchObject(timeout504);
        expect(took).toBeGreaterThanOrEqual(150);
        expect(took).toBeLessThan(1200);
      } finally {
        await redis.client().client('UNPAUSE');
      }
    });

    function gwOf(name: 'main' | 'slow'): () => TestGateway {
      return () => (name === 'main' ? gw : slow);
    }
  });

  describe('503 when the service is unreachable', () => {
    let down: TestGateway;
    beforeAll(async () => {
      // A port where nothing listens.
      down = await startGateway(`127.0.0.1:${await freePort()}`, {}, bearer(TEST_TOKEN));
    });
    afterAll(async () => {
      await down?.stop();
    });

    it('a call answers 503 at once, without naming the address', async () => {
      const started = Date.now();
      const r = await down.post('/threads/Threads/ListThreads', { group_id: 'g' });
      expect(r).toMatchObject({
        status: 503,
        body: { id: 'UNAVAILABLE', code: 503, detail: 'The service is unavailable, try again', status: 'Service Unavailable' },
      });
      expect(r.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('GET /healthz is 503, while the one of a gateway with a live service is 200', async () => {
      expect(await down.request('/healthz', undefined, { method: 'GET' })).toMatchObject({
        status: 503,
        body: { id: 'UNAVAILABLE', code: 503, status: 'Service Unavailable' },
      });
      expect(await gw.request('/healthz', undefined, { method: 'GET' })).toMatchObject({ status: 200, body: { status: 'SERVING' } });
    });
  });
});
