/**
 * What the gateway sends upstream and how it relays statuses the real service
 * cannot be made to produce on demand (429 with RetryInfo, a stack in an
 * UNKNOWN status): the gateway talks to a small recording gRPC server here,
 * built from the same generated service definitions, on a real socket. The
 * statuses it answers are built with the service's own `toServiceError`.
 */
import { Server, ServerCredentials, status, type Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { toServiceError } from '../../src/transports/grpc/status';
import { AppError } from '../../src/core/errors';
import type { CreateThreadRequest, CreateThreadResponse, ThreadsServer } from '../gen/threads/threads';
import { ThreadsService } from '../gen/threads/threads';
import type { ReadConversationRequest, ReadConversationResponse, StreamsServer } from '../gen/streams/streams';
import { StreamsService } from '../gen/streams/streams';
import { createLogger } from '../../src/log';
import { startGateway, type TestGateway } from '../helpers/gateway';

interface Seen {
  metadata: Metadata;
  /** Milliseconds from receipt to the call's deadline. */
  deadlineInMs: number;
  request: CreateThreadRequest;
}

const silent = createLogger('silent', 'test');
const seen: Seen[] = [];
let cancelled = 0;
let server: Server;
let gw: TestGateway;

const createThread = (call: ServerUnaryCall<CreateThreadRequest, CreateThreadResponse>, cb: sendUnaryData<CreateThreadResponse>) => {
  const deadline = call.getDeadline();
  seen.push({ metadata: call.metadata, deadlineInMs: Number(deadline) - Date.now(), request: call.request });
  switch (call.request.topic) {
    case 'rate-limited':
      return cb(toServiceError(new AppError('RATE_LIMITED', undefined, { retryAfterMs: 2500 }), silent));
    case 'unknown-with-stack':
      return cb({ code: status.UNKNOWN, details: 'TypeError: x is undefined\n    at handler (/srv/secret/app.js:10:5)' });
    case 'thrown':
      return cb(toServiceError(new Error('connection string redis://:hunter2@db:6379'), silent));
    case 'slow':
      call.on('cancelled', () => cancelled++);
      return; // never answers; the caller goes away
    case 'unset':
      return cb(null, { thread: undefined });
    default:
      return cb(null, { thread: { id: 'only-id', groupId: '', topic: '', createdAt: '', metadata: {}, lastMessageAt: '', messageCount: '0', updatedAt: '', unreadCount: '0', createdBy: '', parentThreadId: '', parentMessageId: '', deletedAt: '', participants: [] } });
  }
};

const readConversation = (_call: ServerUnaryCall<ReadConversationRequest, ReadConversationResponse>, cb: sendUnaryData<ReadConversationResponse>) =>
  cb(null, { conversation: { id: 'c1', groupId: '', topic: '', createdAt: undefined, metadata: {}, lastMessageAt: undefined, messageCount: '0', updatedAt: undefined, unreadCount: '0' } });

beforeAll(async () => {
  server = new Server();
  server.addService(ThreadsService, { createThread } as Partial<ThreadsServer> as ThreadsServer);
  server.addService(StreamsService, { readConversation } as Partial<StreamsServer> as StreamsServer);
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  // The gateway refuses a call without a bearer token before it goes upstream; these calls carry one.
  gw = await startGateway(`127.0.0.1:${port}`, { deadlineMs: 10_000 }, { authorization: 'Bearer upstream-test-token' });
});
afterAll(async () => {
  await gw?.stop();
  server?.forceShutdown();
});

async function createThread1(topic: string, headers: Record<string, string> = {}) {
  seen.length = 0;
  const r = await gw.post('/threads/Threads/CreateThread', { group_id: 'g', topic }, headers);
  return { r, upstream: seen[0] };
}

describe('metadata sent upstream', () => {
  it('forwards authorization, micro-namespace and x-request-id, and nothing else of the headers', async () => {
    const { r, upstream } = await createThread1('ok', {
      authorization: 'Bearer tok-123',
      'micro-namespace': 'acme',
      'x-request-id': 'trace-42',
      cookie: 'session=abc',
      'x-custom': 'no',
    });
    expect(r.status).toBe(200);
    expect(upstream.metadata.get('authorization')).toEqual(['Bearer tok-123']);
    expect(upstream.metadata.get('micro-namespace')).toEqual(['acme']);
    expect(upstream.metadata.get('x-request-id')).toEqual(['trace-42']);
    expect(r.headers.get('x-request-id')).toBe('trace-42');
    expect(upstream.metadata.get('cookie')).toEqual([]);
    expect(upstream.metadata.get('x-custom')).toEqual([]);
  });

  it('sends a generated request id when the caller gives none (or an unusable one), the same one it echoes', async () => {
    const variants: Record<string, string>[] = [{}, { 'x-request-id': 'has spaces in it' }, { 'x-request-id': 'x'.repeat(129) }];
    for (const headers of variants) {
      const { r, upstream } = await createThread1('ok', headers);
      const id = r.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(upstream.metadata.get('x-request-id')).toEqual([id]);
    }
  });

  it('sends the request as decoded from either name style', async () => {
    seen.length = 0;
    await gw.post('/threads/Threads/CreateThread', { groupId: 'camel', topic: 'ok' });
    await gw.post('/threads/Threads/CreateThread', { group_id: 'snake', topic: 'ok' });
    expect(seen.map((s) => s.request)).toEqual([
      { groupId: 'camel', topic: 'ok', metadata: {}, createdBy: '', parentThreadId: '', parentMessageId: '', participants: [] },
      { groupId: 'snake', topic: 'ok', metadata: {}, createdBy: '', parentThreadId: '', parentMessageId: '', participants: [] },
    ]);
  });
});

describe('deadline sent upstream', () => {
  it.each([
    ['grpc-timeout 2S', { 'grpc-timeout': '2S' }, 2000],
    ['grpc-timeout 1500m', { 'grpc-timeout': '1500m' }, 1500],
    ['grpc-timeout 3000000u', { 'grpc-timeout': '3000000u' }, 3000],
    ['x-timeout-ms 2500', { 'x-timeout-ms': '2500' }, 2500],
    ['both: the shorter', { 'grpc-timeout': '4S', 'x-timeout-ms': '1200' }, 1200],
    ['none: the default (GATEWAY_DEADLINE_MS, 10 s)', {}, 10_000],
    ['grpc-timeout 1H: capped at 5 minutes', { 'grpc-timeout': '1H' }, 300_000],
  ])('%s', async (_name, headers, ms) => {
    const { r, upstream } = await createThread1('ok', headers);
    expect(r.status).toBe(200);
    expect(upstream.deadlineInMs).toBeLessThanOrEqual(ms);
    expect(upstream.deadlineInMs).toBeGreaterThan(ms - 500);
  });

  it('cancels the gRPC call when the HTTP caller goes away', async () => {
    const before = cancelled;
    const abort = new AbortController();
    const req = fetch(`${gw.url}/threads/Threads/CreateThread`, {
      method: 'POST',
      headers: { authorization: 'Bearer upstream-test-token' },
      body: JSON.stringify({ group_id: 'g', topic: 'slow' }),
      signal: abort.signal,
    }).catch(() => 'aborted');
    await new Promise((r) => setTimeout(r, 150));
    abort.abort();
    expect(await req).toBe('aborted');
    const until = Date.now() + 2000;
    while (cancelled === before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(cancelled).toBe(before + 1);
    expect(gw.gateway.inFlight()).toBe(0);
  });
});

describe('statuses relayed', () => {
  it('RESOURCE_EXHAUSTED with RetryInfo is 429 with Retry-After in whole seconds', async () => {
    const { r } = await createThread1('rate-limited');
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('3');
    expect(r.body).toEqual({ id: 'RATE_LIMITED', code: 429, detail: 'Rate limit exceeded', status: 'Too Many Requests' });
  });

  it.each(['unknown-with-stack', 'thrown'])('%s is 500 with a generic body: no stack, no internals', async (topic) => {
    const { r } = await createThread1(topic);
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ id: 'INTERNAL', code: 500, detail: 'Internal error', status: 'Internal Server Error' });
    expect(r.text).not.toMatch(/secret|hunter2|at handler|TypeError/);
  });

  it('a method the upstream does not implement (UNIMPLEMENTED) is 500', async () => {
    const r = await gw.post('/threads/Threads/ListThreads', { group_id: 'g' });
    expect(r).toMatchObject({ status: 500, body: { id: 'INTERNAL', detail: 'Internal error' } });
  });
});

describe('every response field present', () => {
  it('unset strings are "" and an unset message field is null', async () => {
    expect((await createThread1('ok')).r.body).toEqual({
      thread: {
        id: 'only-id', group_id: '', topic: '', created_at: '', metadata: {}, last_message_at: '', message_count: '0', updated_at: '', unread_count: '0',
        created_by: '', parent_thread_id: '', parent_message_id: '', deleted_at: '', participants: [],
      },
    });
    expect((await createThread1('unset')).r.body).toEqual({ thread: null });
  });

  it('an unset Timestamp inside a message is null', async () => {
    const r = await gw.post('/streams/Streams/ReadConversation', { id: 'c1' });
    expect(r.body).toEqual({ conversation: { id: 'c1', group_id: '', topic: '', created_at: null, metadata: {}, last_message_at: null, message_count: '0', updated_at: null, unread_count: '0' } });
  });
});
