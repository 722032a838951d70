/**
 * MAX_REPLY_BYTES: the other limits allow replies larger than gRPC may send
 * (RecentMessages of 100 × 100 texts of 16 KiB), so a reply over the budget is
 * refused as INVALID_ARGUMENT naming the field that asks for fewer messages.
 * A service with a 10 kB budget shows it on small data.
 */
import { status } from '@grpc/grpc-js';
import { defaultLimits } from '../../src/core/limits';
import { containerKeys } from '../../src/store/keys';
import { bearer, startGateway } from '../helpers/gateway';
import { failure } from '../helpers/grpc';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, TEST_TOKEN, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
const text = 'x'.repeat(990);

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url, { ...defaultLimits, MAX_REPLY_BYTES: 10_000 });
});
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

it('Threads: RecentMessages and ListMessages over the budget name limit_per_thread and limit; within it they answer', async () => {
  const ids: string[] = [];
  for (let t = 0; t < 3; t++) {
    const { thread } = await svc.threads.createThread({ groupId: 'big', topic: `t${t}` });
    ids.push(thread!.id);
    for (let i = 0; i < 5; i++) await svc.threads.createMessage({ threadId: thread!.id, id: `m${t}-${i}`, authorId: 'a', text });
  }
  // 3 threads × 5 messages × ~1 kB = ~15 kB > 10 kB.
  for (const req of [{ threadIds: ids, limitPerThread: '5' }, { groupId: 'big', limitPerThread: '5' }]) {
    const f = await failure(svc.threads.recentMessages(req));
    expect(f).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    expect(f.details).toMatch(/MAX_REPLY_BYTES.*limit_per_thread/);
  }
  expect((await svc.threads.recentMessages({ threadIds: ids, limitPerThread: '3' })).messages).toHaveLength(9);

  for (let i = 5; i < 12; i++) await svc.threads.createMessage({ threadId: ids[0], authorId: 'a', text });
  expect((await failure(svc.threads.listMessages({ threadId: ids[0], limit: '12' }))).details).toMatch(/MAX_REPLY_BYTES.*limit$/);
  expect((await svc.threads.listMessages({ threadId: ids[0], limit: '9' })).messages).toHaveLength(9);
});

it('Streams and Chats: the same budget, naming limit_per_conversation and limit', async () => {
  const ids: string[] = [];
  for (let c = 0; c < 2; c++) {
    const { conversation } = await svc.streams.createConversation({ groupId: 'big', topic: `c${c}` });
    ids.push(conversation!.id);
    for (let i = 0; i < 6; i++) await svc.streams.createMessage({ conversationId: conversation!.id, authorId: 'a', text });
  }
  const f = await failure(svc.streams.recentMessages({ conversationIds: ids, limitPerConversation: 6 }));
  expect(f).toMatchObject({ code: status.INVALID_ARGUMENT });
  expect(f.details).toMatch(/limit_per_conversation/);
  expect((await svc.streams.recentMessages({ conversationIds: ids, limitPerConversation: 4 })).messages).toHaveLength(8);

  const { chat } = await svc.chats.createChat({ userIds: ['ann', 'bob'] });
  for (let i = 0; i < 11; i++) await svc.chats.sendMessage({ chatId: chat!.id, authorId: 'ann', text });
  expect((await failure(svc.chats.listMessages({ chatId: chat!.id, limit: '11' }))).details).toMatch(/limit$/);
  expect((await svc.chats.listMessages({ chatId: chat!.id, limit: '9' })).messages).toHaveLength(9);
});

it('a RecentMessages over the budget is refused having read little more than the budget from Redis (not a whole batch of pages)', async () => {
  const ids: string[] = [];
  for (let t = 0; t < 16; t++) {
    const { thread } = await svc.threads.createThread({ groupId: 'wide', topic: `w${t}` });
    ids.push(thread!.id);
    for (let i = 0; i < 6; i++) await svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text });
  }
  const raw = redis.client();
  const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await raw.info('stats'))![1]);
  const before = await sent();
  const f = await failure(svc.threads.recentMessages({ threadIds: ids, limitPerThread: '6' }));
  const after = await sent();
  expect(f.details).toMatch(/limit_per_thread/);
  // 16 × 6 × ~1 kB would be ~100 kB; within the 10 kB budget and a re-read, far less.
  expect(after - before).toBeLessThan(3 * 10_000);
  // Within the budget, the same call with fewer per thread is answered, in the order given.
  const ok = await svc.threads.recentMessages({ threadIds: ids.slice(0, 3), limitPerThread: '3' });
  expect(ok.messages.map((m) => m.threadId)).toEqual(ids.slice(0, 3).flatMap((id) => [id, id, id]));
});

it('reads whose limits allow more than 1 MiB but whose messages are small run at once; a page really over 1 MiB takes its namespace\'s slot', async () => {
  // One large read at a time per namespace, none queued: a second one at once is RATE_LIMITED.
  const strict = await startService(redis.url, defaultLimits, undefined, undefined, { reads: { inFlight: 1, queued: 0, share: 1 } });
  try {
    const small: string[] = [];
    for (let t = 0; t < 10; t++) {
      const { thread } = await strict.threads.createThread({ groupId: 'slots', topic: `t${t}` });
      small.push(thread!.id);
      await Promise.all(Array.from({ length: 10 }, (_, i) => strict.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: `short ${i}` })));
    }
    // 10 threads × 10 messages may be 1.7 MB under the limits (16 KiB texts): these are ~1 kB.
    const recents = await Promise.all(Array.from({ length: 20 }, () => strict.threads.recentMessages({ threadIds: small, limitPerThread: '10' })));
    for (const r of recents) expect(r.messages).toHaveLength(100);
    const lists = await Promise.all(Array.from({ length: 20 }, () => strict.threads.listMessages({ threadId: small[0], limit: '100' })));
    for (const r of lists) expect(r.messages).toHaveLength(10);

    const { thread: big } = await strict.threads.createThread({ groupId: 'slots', topic: 'big' });
    const long = 'y'.repeat(16 * 1024);
    for (let i = 0; i < 80; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => strict.threads.createMessage({ threadId: big!.id, authorId: 'a', text: long })));
    }
    // 80 × 16 KiB = 1.3 MB: each such page needs the slot, so of 8 at once some are refused.
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        strict.threads.listMessages({ threadId: big!.id, limit: '100' }).then(
          (r) => (r.messages.length === 80 ? 'ok' : `short ${r.messages.length}`),
          (e: unknown) => failure(Promise.reject(e)).then((f) => f.reason),
        ),
      ),
    );
    expect(outcomes).toContain('ok');
    expect(outcomes).toContain('RATE_LIMITED');
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'RATE_LIMITED')).toEqual([]);
  } finally {
    await strict.stop();
  }
});

it('a page over 1 MiB answers the same messages, texts and all, as small pages of it, over gRPC and JSON', async () => {
  const big = await startService(redis.url, defaultLimits);
  const gw = await startGateway(big, {}, bearer(TEST_TOKEN));
  try {
    const { thread } = await big.threads.createThread({ groupId: 'bytes', topic: 'big' });
    const threadId = thread!.id;
    // Texts a large page carries as bytes and texts it decodes (escapes), edited ones (re-encoded
    // by the script, keys in another order, "/" escaped), metadata with a key "t", a tombstone.
    const kinds = [
      (i: number) => `plain ${i} `.padEnd(16_000, 'p'),
      (i: number) => `quotes "${i}" and \\ backslash\nnew line\t`.padEnd(16_000, 'q'),
      (i: number) => `é日本語🙂 ${i} `.repeat(700),
      (i: number) => `slash/${i}/`.padEnd(15_000, 's'),
    ];
    for (let i = 0; i < 80; i++) {
      await big.threads.createMessage({ threadId, id: `m${i}`, authorId: `au"thor${i % 3}`, text: kinds[i % 4](i), metadata: i % 5 === 0 ? { t: `x${i}`, a: '"' } : {} });
    }
    for (const i of [1, 6, 11]) await big.threads.updateMessage({ threadId, id: `m${i}`, text: `edited/${i} "é" `.padEnd(16_000, 'e'), metadata: { t: 'meta' } });
    await big.threads.updateMessage({ threadId, id: 'm2', metadata: { k: 'v' } });
    await big.threads.deleteMessage({ threadId, id: 'm3' });

    const whole = await big.threads.listMessages({ threadId, limit: '100', includeDeleted: 'true' });
    expect(whole.messages).toHaveLength(80);
    const pieces = [];
    for (let offset = 0; offset < 80; offset += 10) {
      pieces.push(...(await big.threads.listMessages({ threadId, limit: '10', offset: String(offset), includeDeleted: 'true' })).messages);
    }
    expect(whole.messages).toEqual(pieces);
    expect(whole.messages.find((m) => m.id === 'm7')!.text).toBe(kinds[3](7));
    expect(whole.messages.find((m) => m.id === 'm6')).toMatchObject({ text: 'edited/6 "é" '.padEnd(16_000, 'e'), metadata: { t: 'meta' } });
    expect(whole.messages.find((m) => m.id === 'm3')).toMatchObject({ text: '', deletedAt: expect.stringMatching(/Z$/) });

    const json = await gw.post('/threads/Threads/ListMessages', { thread_id: threadId, limit: 100, include_deleted: 'true' });
    expect(json.status).toBe(200);
    expect(json.body.messages.map((m: { id: string; text: string; metadata: object }) => [m.id, m.text, m.metadata])).toEqual(
      pieces.map((m) => [m.id, m.text, m.metadata]),
    );
  } finally {
    await gw.stop();
    await big.stop();
  }
});

it('a page over 1 MiB read while its messages are deleted and restored is a page of one moment: no tombstone in a visible list', async () => {
  const big = await startService(redis.url, defaultLimits);
  try {
    const { thread } = await big.threads.createThread({ groupId: 'bytes', topic: 'churn' });
    const threadId = thread!.id;
    const long = 'c'.repeat(16_000);
    for (let i = 0; i < 80; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => big.threads.createMessage({ threadId, id: `c${i + j}`, authorId: 'a', text: long })));
    }
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const id = `c${(n * 7) % 80}`;
        await big.threads.deleteMessage({ threadId, id });
        await big.threads.restoreMessage({ threadId, id });
      }
    })();
    const seen: number[] = [];
    const until = Date.now() + 2_000;
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        while (Date.now() < until) {
          const page = await big.threads.listMessages({ threadId, limit: '100' });
          expect(page.messages.filter((m) => m.deletedAt !== '')).toEqual([]);
          expect(page.messages.every((m) => m.text === long)).toBe(true);
          seen.push(page.messages.length);
        }
      }),
    );
    writing = false;
    await writer;
    expect(seen.length).toBeGreaterThan(10);
    for (const n of seen) expect([79, 80]).toContain(n);
  } finally {
    await big.stop();
  }
});

it('a page over 1 MiB whose container changes between every two steps is read in one script step and answered whole', async () => {
  const big = await startService(redis.url, defaultLimits);
  const writers = Array.from({ length: 4 }, () => redis.client());
  try {
    const { thread } = await big.threads.createThread({ groupId: 'bytes', topic: 'moving' });
    const threadId = thread!.id;
    const text = (i: number) => `moving ${i} `.padEnd(16_000, 'm');
    for (let i = 0; i < 80; i++) await big.threads.createMessage({ threadId, id: `v${i}`, authorId: 'a', text: text(i) });
    // The container's stamp (its creation time here) moves all the time, so no two-step read can
    // see it unchanged; the store gives up after its tries and reads in one script step.
    const meta = containerKeys('default', 'thread', threadId).meta;
    let moving = true;
    const loops = writers.map(async (w) => {
      while (moving) await w.pipeline(Array.from({ length: 200 }, () => ['hincrby', meta, 'c', '1'])).exec();
    });
    for (let n = 0; n < 5; n++) {
      const { messages } = await big.threads.listMessages({ threadId, limit: '100', order: 'asc' });
      expect(messages.map((m) => m.text)).toEqual(Array.from({ length: 80 }, (_, i) => text(i)));
    }
    moving = false;
    await Promise.all(loops);
  } finally {
    writers.forEach((w) => w.disconnect());
    await big.stop();
  }
});
