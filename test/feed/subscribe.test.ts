/**
 * Subscribe over gRPC on the three services: replay after cursors, one
 * `live`, then events as they are accepted; resync past the retention; a
 * reader that stops is ended with SLOW_CONSUMER; bad requests fail before any
 * event, naming the field.
 */
import { status } from '@grpc/grpc-js';
import { defaultLimits } from '../../src/core/limits';
import { feedMetrics } from '../../src/metrics/service';
import { subscribe, type Feed } from '../helpers/feed';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, startService, TEST_TOKEN, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
const feeds: Feed[] = [];
const open = (...args: Parameters<typeof subscribe>) => {
  const f = subscribe(...args);
  feeds.push(f);
  return f;
};

const RETENTION = 50;
const MAX_BUFFERED = 20;

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url, { ...defaultLimits, FEED_RETENTION_EVENTS: RETENTION, FEED_MAX_BUFFERED_EVENTS: MAX_BUFFERED });
});
afterEach(() => feeds.splice(0).forEach((f) => f.cancel()));
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

async function thread(): Promise<string> {
  return (await svc.threads.createThread({ groupId: 'g', topic: 't' })).thread!.id;
}
async function post(threadId: string, n: number, prefix = 'm'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await svc.threads.createMessage({ threadId, authorId: 'a', text: `${prefix}${i}` })).message!.id);
  return ids;
}

describe('threads', () => {
  it('replays after a feed_cursor, says live once, then delivers new messages in seq order', async () => {
    const t = await thread();
    const { feedCursor } = await svc.threads.listMessages({ threadId: t });
    await post(t, 3, 'old');
    const f = open(svc.address, 'threads', { threadIds: [t], after: [feedCursor] }, TEST_TOKEN);
    await f.live();
    expect(f.events.map((e) => e.type)).toEqual(['created', 'created', 'created', 'live']);
    expect(f.events.slice(0, 3).map((e) => e.message!.text)).toEqual(['old0', 'old1', 'old2']);
    expect(f.events.slice(0, 3).every((e) => e.containerId === t && e.cursor !== '')).toBe(true);
    await post(t, 4, 'new');
    const live = await f.live(4);
    expect(live.map((e) => [e.type, e.message!.text, e.message!.seq])).toEqual([
      ['created', 'new0', '4'],
      ['created', 'new1', '5'],
      ['created', 'new2', '6'],
      ['created', 'new3', '7'],
    ]);
    expect(f.events.filter((e) => e.type === 'live')).toHaveLength(1);
  });

  it("an event's cursor resumes right after it: no gap, no duplicate", async () => {
    const t = await thread();
    const f = open(svc.address, 'threads', { threadIds: [t] }, TEST_TOKEN);
    await f.live();
    await post(t, 5);
    const first = await f.live(5);
    f.cancel();
    await post(t, 2, 'later');
    const g = open(svc.address, 'threads', { threadIds: [t], after: [first[2].cursor] }, TEST_TOKEN);
    await g.live();
    expect(g.events.map((e) => e.message?.text ?? e.type)).toEqual(['m3', 'm4', 'later0', 'later1', 'live']);
  });

  it('a subscription without a cursor gets only what is accepted after it started', async () => {
    const t = await thread();
    await post(t, 2);
    const f = open(svc.address, 'threads', { threadIds: [t] }, TEST_TOKEN);
    await f.live();
    expect(f.events.map((e) => e.type)).toEqual(['live']);
    await post(t, 1, 'x');
    expect((await f.live(1)).map((e) => e.message!.text)).toEqual(['x0']);
  });

  it('follows several threads at once, each in its own order', async () => {
    const [a, b] = [await thread(), await thread()];
    const f = open(svc.address, 'threads', { threadIds: [a, b] }, TEST_TOKEN);
    await f.live();
    await Promise.all([post(a, 10, 'a'), post(b, 10, 'b')]);
    const got = await f.live(20);
    for (const [t, p] of [
      [a, 'a'],
      [b, 'b'],
    ]) {
      expect(got.filter((e) => e.containerId === t).map((e) => e.message!.text)).toEqual(Array.from({ length: 10 }, (_, i) => `${p}${i}`));
    }
  });

  it('a cursor further behind than FEED_RETENTION_EVENTS gets resync_required with the current position, then new events', async () => {
    const t = await thread();
    const { feedCursor } = await svc.threads.listMessages({ threadId: t });
    await post(t, RETENTION + 5);
    const f = open(svc.address, 'threads', { threadIds: [t], after: [feedCursor] }, TEST_TOKEN);
    await f.live();
    expect(f.events.map((e) => e.type)).toEqual(['resync_required', 'live']);
    const resync = f.events[0];
    expect(resync.containerId).toBe(t);
    expect(resync.message).toBeUndefined();
    // Its cursor is the thread's position now: resuming from it misses nothing after.
    await post(t, 1, 'after');
    expect((await f.live(1)).map((e) => e.message!.text)).toEqual(['after0']);
    const g = open(svc.address, 'threads', { threadIds: [t], after: [resync.cursor] }, TEST_TOKEN);
    await g.live();
    expect(g.events.map((e) => e.message?.text ?? e.type)).toEqual(['after0', 'live']);
  });

  it('a cursor within the retention is replayed in full', async () => {
    const t = await thread();
    const { feedCursor } = await svc.threads.listMessages({ threadId: t });
    await post(t, RETENTION);
    const f = open(svc.address, 'threads', { threadIds: [t], after: [feedCursor] }, TEST_TOKEN);
    const got = await f.live();
    expect(got).toEqual([]);
    expect(f.events.filter((e) => e.type === 'created')).toHaveLength(RETENTION);
    expect(f.events.slice(0, RETENTION).map((e) => Number(e.message!.seq))).toEqual(Array.from({ length: RETENTION }, (_, i) => i + 1));
  });

  it('a subscriber that stops reading is ended with RESOURCE_EXHAUSTED SLOW_CONSUMER; a resume from its last cursor loses nothing', async () => {
    const t = await thread();
    const f = open(svc.address, 'threads', { threadIds: [t] }, TEST_TOKEN);
    await f.live();
    f.call.pause();
    const big = 'x'.repeat(16 * 1024 - 10);
    // Until the service has ended it (the paused client does not read the status yet).
    const ended = async () => (await feedMetrics.slowConsumers.get()).values[0]?.value ?? 0;
    const before = await ended();
    for (let i = 0; i < 1000 && (await ended()) === before; i++) await svc.threads.createMessage({ threadId: t, authorId: 'a', text: `${i}:${big}` });
    f.call.resume();
    const err = await f.failure();
    expect(err).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: 'SLOW_CONSUMER' });
    const seen = f.events.filter((e) => e.type === 'created');
    const last = seen[seen.length - 1];
    const g = open(svc.address, 'threads', { threadIds: [t], after: [last.cursor] }, TEST_TOKEN);
    await g.live();
    const rest = g.events.filter((e) => e.type === 'created');
    const seqs = [...seen, ...rest].map((e) => Number(e.message!.seq));
    const total = (await svc.threads.listMessages({ threadId: t, limit: '1' })).messages[0].seq;
    expect(seqs).toEqual(Array.from({ length: Number(total) }, (_, i) => i + 1));
  });
});

describe('chats and streams', () => {
  it('chats by user_id: every chat of the user, and one created while subscribed', async () => {
    const before = (await svc.chats.createChat({ userIds: ['ann', 'bob'] })).chat!.id;
    await svc.chats.createChat({ userIds: ['cat', 'dan'] });
    const f = open(svc.address, 'chats', { userId: 'ann' }, TEST_TOKEN);
    await f.live();
    await svc.chats.sendMessage({ chatId: before, authorId: 'bob', text: 'hi ann' });
    const fresh = (await svc.chats.createChat({ userIds: ['ann', 'eve'] })).chat!.id;
    await svc.chats.sendMessage({ chatId: fresh, authorId: 'eve', text: 'new chat' });
    const got = await f.live(2);
    expect(got.map((e) => [e.containerId, e.message!.text])).toEqual([
      [before, 'hi ann'],
      [fresh, 'new chat'],
    ]);
  });

  it('chats by chat_ids, and streams by conversation_ids', async () => {
    const chat = (await svc.chats.createChat({ userIds: ['u1', 'u2'] })).chat!.id;
    const conv = (await svc.streams.createConversation({ groupId: 'g', topic: 't' })).conversation!.id;
    const fc = open(svc.address, 'chats', { chatIds: [chat] }, TEST_TOKEN);
    const fs = open(svc.address, 'streams', { conversationIds: [conv] }, TEST_TOKEN);
    await Promise.all([fc.live(), fs.live()]);
    await svc.chats.sendMessage({ chatId: chat, authorId: 'u1', text: 'c' });
    await svc.streams.createMessage({ conversationId: conv, authorId: 'u1', text: 's' });
    expect((await fc.live(1)).map((e) => [e.containerId, e.message!.text])).toEqual([[chat, 'c']]);
    expect((await fs.live(1)).map((e) => [e.containerId, e.message!.text])).toEqual([[conv, 's']]);
  });
});

describe('bad requests fail before any event, naming the field', () => {
  const fails = async (api: 'threads' | 'chats' | 'streams', req: object, token = TEST_TOKEN) => {
    const f = open(svc.address, api, req as never, token);
    const err = await f.failure();
    expect(f.events).toEqual([]);
    return err;
  };

  it('no ids, too many ids, both chat_ids and user_id', async () => {
    expect(await fails('threads', {})).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'MISSING_THREAD_IDS' });
    expect(await fails('chats', {})).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'MISSING_CHAT_IDS' });
    expect(await fails('streams', {})).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'MISSING_CONVERSATION_IDS' });
    const many = Array.from({ length: defaultLimits.MAX_IDS_PER_CALL + 1 }, (_, i) => `t${i}`);
    expect(await fails('threads', { threadIds: many })).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'TOO_MANY_IDS' });
    const err = await fails('chats', { chatIds: ['c'], userId: 'u' });
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    expect(err.details).toMatch(/user_id/);
  });

  it('absent containers, and another namespace’s, are NOT_FOUND', async () => {
    const t = await thread();
    expect(await fails('threads', { threadIds: [t, 'no-such-thread'] })).toMatchObject({ code: status.NOT_FOUND });
    expect(await fails('threads', { threadIds: [t] }, OTHER_TOKEN)).toMatchObject({ code: status.NOT_FOUND });
  });

  it('malformed cursors, list cursors, cursors of another thread and two for one thread', async () => {
    const [a, b] = [await thread(), await thread()];
    await post(a, 3);
    const listed = await svc.threads.listMessages({ threadId: a, limit: '1' });
    const { feedCursor: ofB } = await svc.threads.listMessages({ threadId: b });
    const { feedCursor: ofA } = await svc.threads.listMessages({ threadId: a });
    expect(await fails('threads', { threadIds: [a], after: ['not-a-cursor'] })).toMatchObject({ reason: 'INVALID_CURSOR' });
    expect(await fails('threads', { threadIds: [a], after: [listed.nextCursor] })).toMatchObject({ reason: 'INVALID_CURSOR' });
    expect(await fails('threads', { threadIds: [a], after: [ofB] })).toMatchObject({ reason: 'INVALID_CURSOR' });
    expect(await fails('threads', { threadIds: [a], after: [ofA, ofA] })).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    // Another namespace's cursor of the same thread id does not pass either.
    expect(await fails('threads', { threadIds: [a], after: [ofA] }, OTHER_TOKEN)).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_CURSOR' });
  });

  it('no token is UNAUTHENTICATED', async () => {
    const t = await thread();
    const f = open(svc.address, 'threads', { threadIds: [t] });
    expect(await f.failure()).toMatchObject({ code: status.UNAUTHENTICATED });
  });
});
