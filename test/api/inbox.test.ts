/**
 * Inboxes and read state over gRPC: activity fields on containers, ListChats
 * in activity order with last message and unread count (a SendMessage shows
 * in every member's list by the time it returns), ReadChat, MarkRead that
 * only moves forward, unread counts that skip deleted messages, and
 * CHATS_ENFORCE_MEMBERSHIP.
 */
import { status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { defaultLimits } from '../../src/core/limits';
import { userReadIndexKey } from '../../src/store/keys';
import { NO_RATE_LIMITS } from '../../src/core/throttle';
import { failure } from '../helpers/grpc';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, startService, type TestService } from '../helpers/service';
import { clients } from '../helpers/grpc';

let redis: TestRedis;
let svc: TestService;
beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
});
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

it('containers carry last_message_at, message_count (not deleted) and updated_at', async () => {
  const t = (await svc.threads.createThread({ groupId: 'act', topic: 't' })).thread!;
  expect(t).toMatchObject({ lastMessageAt: '', messageCount: '0' });
  expect(t.updatedAt).toBe(t.createdAt);
  const a = (await svc.threads.createMessage({ threadId: t.id, authorId: 'u', text: 'a' })).message!;
  const b = (await svc.threads.createMessage({ threadId: t.id, authorId: 'u', text: 'b' })).message!;
  await svc.threads.deleteMessage({ threadId: t.id, id: b.id });
  const read = (await svc.threads.readThread({ id: t.id })).thread!;
  expect(read).toMatchObject({ lastMessageAt: b.sentAt, messageCount: '1' });
  expect(read.updatedAt > b.sentAt).toBe(true);
  expect(a.sentAt < b.sentAt).toBe(true);
});

it('ListChats: most recent activity first, last message and unread count; every member sees a send when it returns', async () => {
  const user = `inbox-${Date.now()}`;
  const chats: string[] = [];
  for (const other of ['p1', 'p2', 'p3']) chats.push((await svc.chats.createChat({ userIds: [user, other] })).chat!.id);
  // Creation order, newest first, with no message yet.
  expect((await svc.chats.listChats({ userId: user })).chats.map((c) => c.id)).toEqual([...chats].reverse());
  await svc.chats.sendMessage({ chatId: chats[0], authorId: 'p1', text: 'hello' });
  await svc.chats.sendMessage({ chatId: chats[0], authorId: 'p1', text: 'again' });
  const listed = await svc.chats.listChats({ userId: user });
  expect(listed.chats.map((c) => c.id)).toEqual([chats[0], chats[2], chats[1]]);
  expect(listed.chats[0]).toMatchObject({ unreadCount: '2', messageCount: '2', lastMessage: { text: 'again', authorId: 'p1' } });
  // The other member sees it too, with nothing unread: they wrote it.
  const p1 = await svc.chats.listChats({ userId: 'p1' });
  expect(p1.chats.find((c) => c.id === chats[0])).toMatchObject({ unreadCount: '0' });
  // Paging by cursor visits each chat once.
  const first = await svc.chats.listChats({ userId: user, limit: '2' });
  const rest = await svc.chats.listChats({ userId: user, limit: '2', after: first.nextCursor });
  expect([...first.chats, ...rest.chats].map((c) => c.id)).toEqual([chats[0], chats[2], chats[1]]);
  expect(rest.hasMore).toBe(false);
  expect(await failure(svc.chats.listChats({}))).toMatchObject({ reason: 'MISSING_USER_ID' });
});

it('concurrent sends to many chats: the inbox ends in the order of each chat’s last message', async () => {
  const user = `busy-${Date.now()}`;
  const chats = await Promise.all(Array.from({ length: 12 }, async (_, i) => (await svc.chats.createChat({ userIds: [user, `q${i}`] })).chat!.id));
  const last = new Map<string, string>();
  await Promise.all(
    chats.flatMap((chatId, i) =>
      Array.from({ length: 5 }, async () => {
        const m = (await svc.chats.sendMessage({ chatId, authorId: `q${i}`, text: 'x' })).message!;
        if (!last.has(chatId) || BigInt(m.sentAt) > BigInt(last.get(chatId)!)) last.set(chatId, m.sentAt);
      }),
    ),
  );
  const listed = (await svc.chats.listChats({ userId: user, limit: '50' })).chats;
  const expected = [...chats].sort((a, b) => (BigInt(last.get(b)!) > BigInt(last.get(a)!) ? 1 : -1));
  expect(listed.map((c) => c.id)).toEqual(expected);
  expect(listed.every((c) => c.unreadCount === '5')).toBe(true);
});

it('MarkRead moves forward only; unread counts skip deleted messages; ReadChat and ReadThread report them', async () => {
  const chat = (await svc.chats.createChat({ userIds: ['mr-a', 'mr-b'] })).chat!.id;
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await svc.chats.sendMessage({ chatId: chat, authorId: 'mr-a', text: `m${i}` })).message!.id);
  expect((await svc.chats.readChat({ id: chat, userId: 'mr-b' })).chat).toMatchObject({ unreadCount: '6', lastMessage: { text: 'm5' } });
  expect((await svc.chats.markRead({ chatId: chat, userId: 'mr-b', messageId: ids[2] })).chat!.unreadCount).toBe('3');
  // An older message changes nothing.
  expect((await svc.chats.markRead({ chatId: chat, userId: 'mr-b', messageId: ids[0] })).chat!.unreadCount).toBe('3');
  await svc.chats.deleteMessage({ chatId: chat, id: ids[4] });
  expect((await svc.chats.readChat({ id: chat, userId: 'mr-b' })).chat!.unreadCount).toBe('2');
  await svc.chats.restoreMessage({ chatId: chat, id: ids[4] });
  expect((await svc.chats.readChat({ id: chat, userId: 'mr-b' })).chat!.unreadCount).toBe('3');
  // A deleted message is a position like any other; no message id: the latest.
  await svc.chats.deleteMessage({ chatId: chat, id: ids[3] });
  expect((await svc.chats.markRead({ chatId: chat, userId: 'mr-b', messageId: ids[3] })).chat!.unreadCount).toBe('2');
  expect((await svc.chats.markRead({ chatId: chat, userId: 'mr-b' })).chat!.unreadCount).toBe('0');

  // Racing MarkRead calls: the pointer ends at the furthest one.
  const thread = (await svc.threads.createThread({ groupId: 'mr', topic: 't' })).thread!.id;
  const tids: string[] = [];
  for (let i = 0; i < 20; i++) tids.push((await svc.threads.createMessage({ threadId: thread, authorId: 'w', text: `${i}` })).message!.id);
  await Promise.all(tids.map((messageId) => svc.threads.markRead({ threadId: thread, userId: 'racer', messageId })));
  expect((await svc.threads.readThread({ id: thread, userId: 'racer' })).thread!.unreadCount).toBe('0');
  expect((await svc.threads.readThread({ id: thread, userId: 'nobody' })).thread!.unreadCount).toBe('20');

  // Bad input.
  expect(await failure(svc.threads.markRead({ threadId: thread, messageId: tids[0] }))).toMatchObject({ reason: 'MISSING_USER_ID' });
  expect(await failure(svc.threads.markRead({ threadId: thread, userId: 'x', messageId: 'nope' }))).toMatchObject({ code: status.NOT_FOUND });
  const other = clients(svc.address, OTHER_TOKEN);
  try {
    expect(await failure(other.threads.markRead({ threadId: thread, userId: 'x' }))).toMatchObject({ code: status.NOT_FOUND });
    expect((await other.chats.listChats({ userId: 'mr-b' })).chats).toEqual([]);
  } finally {
    other.close();
  }
});

it('CHATS_ENFORCE_MEMBERSHIP: a sender who is not in the chat is PERMISSION_DENIED NOT_A_MEMBER', async () => {
  const strict = await startService(redis.url, defaultLimits, NO_RATE_LIMITS, undefined, { chatsMembersOnly: true });
  try {
    const chat = (await strict.chats.createChat({ userIds: ['em-a', 'em-b'] })).chat!.id;
    await strict.chats.sendMessage({ chatId: chat, authorId: 'em-a', text: 'ok' });
    expect(await failure(strict.chats.sendMessage({ chatId: chat, authorId: 'em-z', text: 'no' }))).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'NOT_A_MEMBER' });
    // Off by default (as m3o).
    await svc.chats.sendMessage({ chatId: chat, authorId: 'em-z', text: 'allowed' });
  } finally {
    await strict.stop();
  }
});

it('ListThreads and ListConversations order_by last_message_at: most recent activity first, asc reverses, cursors walk it', async () => {
  const group = `act-${Date.now()}`;
  const t = await Promise.all([0, 1, 2].map(async (i) => (await svc.threads.createThread({ groupId: group, topic: `t${i}` })).thread!.id));
  await svc.threads.createMessage({ threadId: t[0], authorId: 'a', text: 'x' });
  const byActivity = (await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at' })).threads.map((x) => x.id);
  expect(byActivity).toEqual([t[0], t[2], t[1]]);
  expect((await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at', order: 'asc' })).threads.map((x) => x.id)).toEqual([t[1], t[2], t[0]]);
  expect((await svc.threads.listThreads({ groupId: group })).threads.map((x) => x.id)).toEqual([t[2], t[1], t[0]]);
  const first = await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at', limit: '2' });
  const rest = await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at', limit: '2', after: first.nextCursor });
  expect([...first.threads, ...rest.threads].map((x) => x.id)).toEqual(byActivity);
  // A cursor of one order is not one of the other.
  expect(await failure(svc.threads.listThreads({ groupId: group, after: first.nextCursor }))).toMatchObject({ reason: 'INVALID_CURSOR' });
  expect(await failure(svc.threads.listThreads({ groupId: group, orderBy: 'newest' }))).toMatchObject({ code: status.INVALID_ARGUMENT });
  // With user_id, each thread carries that user's unread count.
  expect((await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at', userId: 'reader' })).threads.map((x) => x.unreadCount)).toEqual(['1', '0', '0']);

  const c = await Promise.all([0, 1].map(async () => (await svc.streams.createConversation({ groupId: group, topic: 'c' })).conversation!.id));
  await svc.streams.createMessage({ conversationId: c[0], authorId: 'a', text: 'y' });
  expect((await svc.streams.listConversations({ groupId: group, orderBy: 'last_message_at' })).conversations.map((x) => x.id)).toEqual([c[0], c[1]]);
});

it('concurrent messages to many threads of a group (gathered activity writes): each call, once returned, has its thread behind only threads with a message as recent; the group ends in last-message order', async () => {
  const group = `burst-${Date.now()}`;
  const threads = await Promise.all(Array.from({ length: 10 }, async (_, i) => (await svc.threads.createThread({ groupId: group, topic: `t${i}` })).thread!.id));
  // Thread times are RFC 3339 with nine fraction digits: they compare as strings.
  const last = new Map<string, string>();
  await Promise.all(
    threads.flatMap((threadId) =>
      Array.from({ length: 6 }, async () => {
        const m = (await svc.threads.createMessage({ threadId, authorId: 'w', text: 'x' })).message!;
        if (!last.has(threadId) || m.sentAt > last.get(threadId)!) last.set(threadId, m.sentAt);
        // Read-your-writes: the activity order already has this message's time (or a later one),
        // so every thread listed ahead of this one has a message at least as recent.
        const listed = (await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at', limit: '50' })).threads;
        const ahead = listed.slice(0, listed.findIndex((t) => t.id === threadId));
        expect(ahead.filter((t) => t.lastMessageAt === '' || t.lastMessageAt < m.sentAt)).toEqual([]);
      }),
    ),
  );
  const listed = (await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at', limit: '50' })).threads;
  const expected = [...threads].sort((a, b) => (last.get(b)! > last.get(a)! ? 1 : -1));
  expect(listed.map((t) => t.id)).toEqual(expected);
});

it('GetUnread: totals and per-container counts over a user’s chats, and over the group containers they read in', async () => {
  const user = `gu-${Date.now()}`;
  const [a, b, quiet] = await Promise.all(['x', 'y', 'z'].map(async (o) => (await svc.chats.createChat({ userIds: [user, o] })).chat!.id));
  for (let i = 0; i < 3; i++) await svc.chats.sendMessage({ chatId: a, authorId: 'x', text: `${i}` });
  await svc.chats.sendMessage({ chatId: b, authorId: 'y', text: 'hi' });
  const r = await svc.chats.getUnread({ userId: user });
  expect(r.total).toBe('4');
  expect(r.counts).toEqual([
    { id: b, unreadCount: '1' },
    { id: a, unreadCount: '3' },
  ]);
  expect(r.counts.some((x) => x.id === quiet)).toBe(false);

  const group = `gug-${Date.now()}`;
  const [read, wrote, never] = await Promise.all([0, 1, 2].map(async () => (await svc.threads.createThread({ groupId: group, topic: 't' })).thread!.id));
  for (const t of [read, wrote, never]) for (let i = 0; i < 2; i++) await svc.threads.createMessage({ threadId: t, authorId: 'other', text: `${i}` });
  await svc.threads.markRead({ threadId: read, userId: user, messageId: (await svc.threads.listMessages({ threadId: read, order: 'asc', limit: '1' })).messages[0].id });
  await svc.threads.createMessage({ threadId: wrote, authorId: user, text: 'mine' });
  await svc.threads.createMessage({ threadId: wrote, authorId: 'other', text: 'reply' });
  const g = await svc.threads.getUnread({ userId: user, groupId: group });
  expect(g.counts.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
    [
      { id: read, unreadCount: '1' },
      { id: wrote, unreadCount: '1' },
    ].sort((x, y) => x.id.localeCompare(y.id)),
  );
  expect(g.total).toBe('2');
  expect(await failure(svc.threads.getUnread({ userId: user }))).toMatchObject({ reason: 'MISSING_GROUP_ID' });
  expect(await failure(svc.chats.getUnread({}))).toMatchObject({ reason: 'MISSING_USER_ID' });
});

it('DeleteThread read by more users than it cleans up at once: it returns, no reader sees the thread again, and GetUnread drops the entries left', async () => {
  const group = `gdel-${Date.now()}`;
  const thread = (await svc.threads.createThread({ groupId: group, topic: 'widely read' })).thread!.id;
  const first = (await svc.threads.createMessage({ threadId: thread, authorId: 'op', text: 'one' })).message!.id;
  await svc.threads.createMessage({ threadId: thread, authorId: 'op', text: 'two' });
  const readers = Array.from({ length: 1500 }, (_, i) => `wide-${i}`);
  for (let i = 0; i < readers.length; i += 100) {
    await Promise.all(readers.slice(i, i + 100).map((userId) => svc.threads.markRead({ threadId: thread, userId, messageId: first })));
  }
  const client = new Redis(redis.url);
  try {
    const holding = async () => {
      const scores = await Promise.all(readers.map((u) => client.zscore(userReadIndexKey('default', u, 'thread', group), thread)));
      return readers.filter((_, i) => scores[i] !== null);
    };
    expect((await holding()).length).toBe(readers.length);
    expect((await svc.threads.getUnread({ userId: readers[0], groupId: group })).total).toBe('1');
    await svc.threads.deleteThread({ id: thread });
    // Up to about 1,000 readers are cleaned by the delete; the others' entries name an absent thread.
    const left = await holding();
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(readers.length);
    for (const u of left) expect((await svc.threads.getUnread({ userId: u, groupId: group })).counts).toEqual([]);
    expect(await holding()).toEqual([]);
  } finally {
    client.disconnect();
  }
});
