/**
 * The Node client's failures, as a caller sees them, against the real
 * service process: every failure is a ParleyError carrying the contract's id
 * (ErrorInfo reason), the gRPC code, the field at fault and the RetryInfo
 * delay; what is retried and what is not; a RATE_LIMITED call waits the delay
 * the service gave before it tries again; the live feed throws what it cannot
 * resume from and yields resync_required.
 */
import { status } from '@grpc/grpc-js';
import { createClient, ParleyError, type ParleyClient, type RetryListener } from '../../client/src';
import { restartableService, type RestartableService } from '../helpers/restartable';
import { startRedis, type TestRedis } from '../helpers/redis';
import { TEST_TOKEN } from '../helpers/service';
import { workerPort } from '../helpers/ports';

/** Feed retention is RETENTION × 20 events (the slow reader's messages must stay replayable); the resync test writes past it on purpose. */
const RETENTION = 20;
let redis: TestRedis | undefined;
let svc: RestartableService | undefined;
let limited: RestartableService | undefined;
const clients: ParleyClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  svc = await restartableService(redis, { FEED_RETENTION_EVENTS: String(RETENTION * 20), FEED_MAX_BUFFERED_EVENTS: '20' });
  // A second instance over the same Redis that allows 2 calls a second to the namespace (a burst of 2).
  limited = await restartableService(redis, { RATE_LIMIT_RPS: '2', RATE_LIMIT_BURST: '2' });
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await svc?.stopAll();
  await limited?.stopAll();
  await redis?.stop();
});

function client(opts: Partial<Parameters<typeof createClient>[0]> = {}): ParleyClient {
  const c = createClient({ target: svc!.target, token: TEST_TOKEN, ...opts });
  clients.push(c);
  return c;
}

/** The ParleyError a promise rejects with (fails the test when it resolves, or rejects with something else). */
async function failure(p: Promise<unknown>): Promise<ParleyError> {
  const got = await p.then(
    (v) => ({ value: v }),
    (e: unknown) => ({ error: e }),
  );
  if (!('error' in got)) throw new Error(`expected a failure, got ${JSON.stringify(got.value, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  expect(got.error).toBeInstanceOf(ParleyError);
  return got.error as ParleyError;
}

describe('errors', () => {
  it('a missing field: INVALID_ARGUMENT with the contract id and the field, not retried', async () => {
    const retries: unknown[] = [];
    const c = client({ onRetry: (r) => retries.push(r) });
    const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'errors' });
    const err = await failure(c.threads.createMessage({ threadId: thread!.id, authorId: 'ana', text: '' }));
    expect(err).toMatchObject({ id: 'MISSING_TEXT', code: status.INVALID_ARGUMENT, field: 'text', retryAfterMs: undefined, method: '/threads.Threads/CreateMessage' });
    expect(err.message).toContain('MISSING_TEXT');
    const chatErr = await failure(c.chats.createChat({ userIds: [] }));
    expect(chatErr).toMatchObject({ id: 'MISSING_USER_IDS', code: status.INVALID_ARGUMENT, field: 'user_ids' });
    expect(retries).toEqual([]);
  });

  it('an absent thread: NOT_FOUND; a bad cursor: INVALID_CURSOR naming its field', async () => {
    const c = client();
    expect(await failure(c.threads.readThread({ id: 'no-such-thread' }))).toMatchObject({ id: 'NOT_FOUND', code: status.NOT_FOUND });
    const { conversation } = await c.streams.createConversation({ groupId: 'g', topic: 'cursor' });
    const err = await failure(c.streams.listMessages({ conversationId: conversation!.id, after: 'not-a-cursor' }));
    expect(err).toMatchObject({ id: 'INVALID_CURSOR', code: status.INVALID_ARGUMENT, field: 'after' });
  });

  it('an unknown token: UNAUTHENTICATED / UNAUTHORIZED; a namespace not the token’s: PERMISSION_DENIED / FORBIDDEN', async () => {
    expect(await failure(client({ token: 'not-a-known-token' }).threads.listThreads({ groupId: 'g' }))).toMatchObject({ id: 'UNAUTHORIZED', code: status.UNAUTHENTICATED });
    expect(await failure(client({ namespace: 'someone-else' }).threads.listThreads({ groupId: 'g' }))).toMatchObject({ id: 'FORBIDDEN', code: status.PERMISSION_DENIED });
  });

  it('the deadline: a call past it fails with DEADLINE_EXCEEDED', async () => {
    const c = client();
    const err = await failure(c.threads.listThreads({ groupId: 'g' }, { deadlineMs: 1 }));
    expect(err).toMatchObject({ id: 'DEADLINE_EXCEEDED', code: status.DEADLINE_EXCEEDED });
  });
});

describe('retries with nothing listening', () => {
  it('a read is retried on UNAVAILABLE with growing waits until its deadline; a write without a client id is not retried', async () => {
    const nowhere = `127.0.0.1:${await workerPort()}`;
    const seen: Parameters<RetryListener>[0][] = [];
    const c = createClient({ target: nowhere, token: TEST_TOKEN, backoff: { initialMs: 50, maxMs: 400 }, onRetry: (r) => seen.push(r) });
    clients.push(c);
    const start = Date.now();
    const read = await failure(c.threads.listThreads({ groupId: 'g' }, { deadlineMs: 1500 }));
    expect(read).toMatchObject({ id: 'UNAVAILABLE', code: status.UNAVAILABLE });
    expect(Date.now() - start).toBeLessThan(3000);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((r) => r.method === '/threads.Threads/ListThreads' && r.error.id === 'UNAVAILABLE')).toBe(true);
    expect(seen.map((r) => r.attempt)).toEqual(seen.map((_, i) => i + 1));
    // Waits within [ceiling / 2, ceiling], the ceiling doubling from 50 ms up to 400 ms.
    seen.forEach((r) => {
      const ceiling = Math.min(400, 50 * 2 ** (r.attempt - 1));
      expect(r.waitMs).toBeGreaterThanOrEqual(ceiling / 2);
      expect(r.waitMs).toBeLessThanOrEqual(ceiling);
    });

    seen.length = 0;
    const write = await failure(c.threads.createThread({ groupId: 'g', topic: 'not retried' }, { deadlineMs: 1500 }));
    expect(write).toMatchObject({ id: 'UNAVAILABLE', code: status.UNAVAILABLE });
    expect(seen).toEqual([]);
    // A message write is: the client gave it an id.
    const msg = await failure(c.chats.sendMessage({ chatId: 'c', authorId: 'ana', text: 'hi' }, { deadlineMs: 600 }));
    // Its last attempt fails UNAVAILABLE, or, on a busy machine, is still connecting when the 600 ms run out.
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(msg.id);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.every((r) => r.method === '/chats.Chats/SendMessage')).toBe(true);
  });
});

describe('rate limits', () => {
  it('RATE_LIMITED carries the RetryInfo delay; the client waits that long, then the call succeeds', async () => {
    const seen: (Parameters<RetryListener>[0] & { at: number })[] = [];
    const c = createClient({ target: limited!.target, token: TEST_TOKEN, onRetry: (r) => seen.push({ ...r, at: Date.now() }) });
    clients.push(c);
    // Without retries, the refusal itself: the contract's id, RESOURCE_EXHAUSTED, a delay.
    let refused: ParleyError | undefined;
    for (let i = 0; i < 6 && !refused; i++) {
      await c.threads.listThreads({ groupId: 'g' }, { retry: false }).catch((e: unknown) => (refused = e as ParleyError));
    }
    expect(refused).toBeInstanceOf(ParleyError);
    expect(refused).toMatchObject({ id: 'RATE_LIMITED', code: status.RESOURCE_EXHAUSTED });
    expect(refused!.retryAfterMs).toBeGreaterThan(0);
    expect(refused!.retryAfterMs).toBeLessThanOrEqual(1000);

    // With retries (the default): the bucket is empty again, so the first attempt is refused and retried after the delay.
    for (let i = 0; i < 4; i++) await c.threads.listThreads({ groupId: 'g' }, { retry: false }).catch(() => undefined);
    seen.length = 0;
    // A write with no client id: refused before it ran, so it is safe to retry too.
    const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'after the wait' });
    const done = Date.now();
    expect(thread!.topic).toBe('after the wait');
    expect(seen.length).toBeGreaterThanOrEqual(1);
    const first = seen[0];
    expect(first.error).toMatchObject({ id: 'RATE_LIMITED', code: status.RESOURCE_EXHAUSTED });
    expect(first.waitMs).toBeGreaterThanOrEqual(first.error.retryAfterMs!);
    // It did wait: the answer came no sooner than the delay the service gave after the refusal.
    expect(done - first.at).toBeGreaterThanOrEqual(first.error.retryAfterMs! - 5);
    const stored = await client().threads.listThreads({ groupId: 'g', limit: 100n });
    expect(stored.threads.filter((t) => t.topic === 'after the wait')).toHaveLength(1);
  });
});

describe('subscribe', () => {
  it('what it cannot resume from is a ParleyError: an absent container, a cursor of another container', async () => {
    const c = client();
    expect(await failure(c.threads.subscribe({ threadIds: ['no-such-thread'] }))).toMatchObject({ id: 'NOT_FOUND', code: status.NOT_FOUND });
    const a = (await c.threads.createThread({ groupId: 'g', topic: 'a' })).thread!.id;
    const b = (await c.threads.createThread({ groupId: 'g', topic: 'b' })).thread!.id;
    const { feedCursor } = await c.threads.listMessages({ threadId: b });
    // Given as a's position: the service refuses it when the stream opens, and the iterator throws it (no reconnect).
    const reconnects: string[] = [];
    const sub = await c.threads.subscribe({ threadIds: [a], after: { [a]: feedCursor } }, { onReconnect: (e) => reconnects.push(e.id) });
    const err = await failure(
      (async () => {
        for await (const ev of sub) void ev;
      })(),
    );
    expect(err).toMatchObject({ id: 'INVALID_CURSOR', code: status.INVALID_ARGUMENT });
    expect(reconnects).toEqual([]);
  });

  it('a cursor past the retention: resync_required is yielded with the position now, then live, then new events from there', async () => {
    const c = client();
    const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'resync' });
    const t = thread!.id;
    const { feedCursor } = await c.threads.listMessages({ threadId: t });
    await Promise.all(Array.from({ length: RETENTION * 24 }, (_, i) => c.threads.createMessage({ threadId: t, authorId: 'ana', text: `old${i}` })));
    const sub = await c.threads.subscribe({ threadIds: [t], after: { [t]: feedCursor } });
    expect(sub.cursors()).toEqual({ [t]: feedCursor });
    const got: string[] = [];
    for await (const ev of sub) {
      got.push(ev.type === 'created' ? ev.message!.text : ev.type);
      if (ev.type === 'resync_required') {
        expect(ev.threadId).toBe(t);
        expect(sub.cursors()).toEqual({ [t]: ev.cursor });
      }
      if (ev.type === 'live') {
        expect(sub.live).toBe(true);
        await c.threads.createMessage({ threadId: t, authorId: 'ana', text: 'new' });
      }
      if (ev.type === 'created') break;
    }
    expect(got).toEqual(['resync_required', 'live', 'new']);
    expect(sub.live).toBe(false);
  });

  it('a reader that stops reading is ended with SLOW_CONSUMER; the iterator reconnects from its cursors: every message once, in order', async () => {
    const c = client();
    const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'slow' });
    const t = thread!.id;
    const reconnects: string[] = [];
    const sub = await c.threads.subscribe({ threadIds: [t] }, { onReconnect: (err) => reconnects.push(err.id) });
    const it = sub[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'live' });
    // Not reading while 300 messages of 16 KiB are written: more than the service buffers (20) and the connection holds.
    const big = 'x'.repeat(16 * 1024 - 10);
    const N = 300;
    for (let i = 0; i < N; i++) await c.threads.createMessage({ threadId: t, authorId: 'a', text: `${i}:${big}` });
    const got: number[] = [];
    while (got.length < N) {
      const { value, done } = await it.next();
      if (done) break;
      if (value.type === 'created') got.push(Number(value.message!.text.split(':')[0]));
    }
    await it.return!();
    expect(reconnects).toContain('SLOW_CONSUMER');
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  it('chats and streams feeds: list-then-subscribe misses nothing, and events carry their own container ids', async () => {
    const c = client();
    const { chat } = await c.chats.createChat({ userIds: ['ana', 'bob'] });
    const { conversation } = await c.streams.createConversation({ groupId: 'g', topic: 'feed' });
    // subscribe() resolves once each container's position is read (ListMessages' feed_cursor), before the
    // stream opens (on the first next()): a message sent in between is not missed.
    const chatSub = await c.chats.subscribe({ chatIds: [chat!.id] });
    const convSub = await c.streams.subscribe({ conversationIds: [conversation!.id] });
    expect(Object.keys(chatSub.cursors())).toEqual([chat!.id]);
    expect(Object.keys(convSub.cursors())).toEqual([conversation!.id]);
    await c.chats.sendMessage({ chatId: chat!.id, authorId: 'ana', text: 'hi bob' });
    await c.streams.createMessage({ conversationId: conversation!.id, authorId: 'ana', text: 'hello all' });
    const chatIter = chatSub[Symbol.asyncIterator]();
    const convIter = convSub[Symbol.asyncIterator]();
    const firstChat = chatIter.next();
    const firstConv = convIter.next();
    const chatEvents = [(await firstChat).value, (await chatIter.next()).value];
    const convEvents = [(await firstConv).value, (await convIter.next()).value];
    const byType = <E extends { type: string }>(es: E[]) => es.find((e) => e.type === 'created')!;
    expect(byType(chatEvents)).toMatchObject({ chatId: chat!.id, message: { text: 'hi bob', authorId: 'ana' } });
    expect(byType(convEvents)).toMatchObject({ conversationId: conversation!.id, message: { text: 'hello all' } });
    await chatIter.return!();
    await convIter.return!();
  });
});
