import { status } from '@grpc/grpc-js';
import { useStack } from '../helpers/stack';
import { failure, stable } from '../helpers/grpc';
import type { Timestamp } from '../gen/google/protobuf/timestamp';

const s = useStack();

const nanos = (t: Timestamp | undefined) => BigInt(t!.seconds) * 1_000_000_000n + BigInt(t!.nanos);

describe('conversations', () => {
  it('create, read (with StringValue group_id), update, list, delete', async () => {
    const { conversation } = await s.svc.streams.createConversation({ groupId: 'sg', topic: 'first' });
    expect(conversation).toMatchObject({ groupId: 'sg', topic: 'first' });
    expect(nanos(conversation!.createdAt) % 1000n).toBe(0n); // Redis TIME has microseconds
    expect(nanos(conversation!.createdAt)).toBeGreaterThan(0n);
    expect((await s.svc.streams.readConversation({ id: conversation!.id })).conversation).toEqual(conversation);
    expect((await s.svc.streams.readConversation({ id: conversation!.id, groupId: 'sg' })).conversation).toEqual(conversation);
    // An empty StringValue is "no group filter", as it is for Threads.
    expect((await s.svc.streams.readConversation({ id: conversation!.id, groupId: '' })).conversation).toEqual(conversation);
    expect(await failure(s.svc.streams.readConversation({ id: conversation!.id, groupId: 'other' }))).toMatchObject({
      code: status.NOT_FOUND,
      reason: 'NOT_FOUND',
    });
    const { conversation: updated } = await s.svc.streams.updateConversation({ id: conversation!.id, topic: 'second' });
    expect(stable(updated)).toEqual(stable({ ...conversation!, topic: 'second' }));
    const second = (await s.svc.streams.createConversation({ groupId: 'sg', topic: 'other' })).conversation!;
    expect((await s.svc.streams.listConversations({ groupId: 'sg' })).conversations).toEqual([second, updated]);
    expect((await s.svc.streams.listConversations({ groupId: 'sg', limit: 1, offset: 1 })).conversations).toEqual([updated]);
    expect(await s.svc.streams.deleteConversation({ id: conversation!.id })).toEqual({});
    expect(await s.svc.streams.deleteConversation({ id: conversation!.id })).toEqual({});
    expect((await s.svc.streams.listConversations({ groupId: 'sg' })).conversations).toEqual([second]);
  });

  it('messages: create (with optional client id), list newest first, recent per conversation', async () => {
    const a = (await s.svc.streams.createConversation({ groupId: 'sm', topic: 'a' })).conversation!;
    const b = (await s.svc.streams.createConversation({ groupId: 'sm', topic: 'b' })).conversation!;
    const m1 = (await s.svc.streams.createMessage({ conversationId: a.id, authorId: 'x', text: 'one' })).message!;
    const m2 = (await s.svc.streams.createMessage({ conversationId: a.id, authorId: 'y', text: 'two', id: 'cid' })).message!;
    const again = (await s.svc.streams.createMessage({ conversationId: a.id, authorId: 'z', text: 'changed', id: 'cid' })).message!;
    expect(again).toEqual(m2);
    expect(m2).toMatchObject({ id: 'cid', conversationId: a.id, authorId: 'y', text: 'two', seq: '2' });
    expect(nanos(m2.sentAt)).toBeGreaterThan(nanos(m1.sentAt));
    await s.svc.streams.createMessage({ conversationId: b.id, authorId: 'x', text: 'b1' });
    expect((await s.svc.streams.listMessages({ conversationId: a.id })).messages).toEqual([m2, m1]);
    expect((await s.svc.streams.listMessages({ conversationId: a.id, limit: 1 })).messages).toEqual([m2]);
    const recent = await s.svc.streams.recentMessages({ conversationIds: [a.id, b.id, 'absent'], limitPerConversation: 1 });
    expect(recent.messages.map((m) => m.text)).toEqual(['two', 'b1']);
  });

  it('pages 1,000 messages by sent_before with no repeat and no gap', async () => {
    const { conversation } = await s.svc.streams.createConversation({ groupId: 'sp', topic: 'paging' });
    // Concurrent writes land many messages in one millisecond (and microsecond).
    const made = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => s.svc.streams.createMessage({ conversationId: conversation!.id, authorId: 'a', text: `${i}` })),
    );
    const all = made.map((r) => r.message!);
    const perMs = new Map<bigint, number>();
    for (const m of all) perMs.set(nanos(m.sentAt) / 1_000_000n, (perMs.get(nanos(m.sentAt) / 1_000_000n) ?? 0) + 1);
    expect(Math.max(...perMs.values())).toBeGreaterThan(1);

    const seen: string[] = [];
    let before: Timestamp | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const { messages } = await s.svc.streams.listMessages({ conversationId: conversation!.id, limit: 37, sentBefore: before });
      if (messages.length === 0) break;
      for (let i = 1; i < messages.length; i++) expect(nanos(messages[i].sentAt)).toBeLessThan(nanos(messages[i - 1].sentAt));
      seen.push(...messages.map((m) => m.id));
      before = messages[messages.length - 1].sentAt;
    }
    expect(seen).toHaveLength(1000);
    expect(new Set(seen).size).toBe(1000);
    const expected = [...all].sort((x, y) => Number(y.seq) - Number(x.seq)).map((m) => m.id);
    expect(seen).toEqual(expected);
  });

  it('sent_before keeps full nanosecond precision and is strictly older', async () => {
    const { conversation } = await s.svc.streams.createConversation({ groupId: 'sn', topic: 'ns' });
    const ms = [];
    for (let i = 0; i < 3; i++) ms.push((await s.svc.streams.createMessage({ conversationId: conversation!.id, authorId: 'a', text: `${i}` })).message!);
    const at = ms[1].sentAt!;
    const exact = (await s.svc.streams.listMessages({ conversationId: conversation!.id, sentBefore: at })).messages;
    expect(exact.map((m) => m.text)).toEqual(['0']);
    const plusOne = { seconds: at.seconds, nanos: at.nanos + 1 };
    const after = (await s.svc.streams.listMessages({ conversationId: conversation!.id, sentBefore: plusOne })).messages;
    expect(after.map((m) => m.text)).toEqual(['1', '0']);
    const epoch = (await s.svc.streams.listMessages({ conversationId: conversation!.id, sentBefore: { seconds: '0', nanos: 0 } })).messages;
    expect(epoch).toEqual([]);
    const far = { seconds: '253402300799', nanos: 999_999_999 };
    expect((await s.svc.streams.listMessages({ conversationId: conversation!.id, sentBefore: far })).messages).toHaveLength(3);
  });

  it.each([
    ['createConversation', { topic: 't' }, 'MISSING_GROUP_ID', status.INVALID_ARGUMENT],
    ['createConversation', { groupId: 'g' }, 'MISSING_TOPIC', status.INVALID_ARGUMENT],
    ['readConversation', {}, 'MISSING_ID', status.INVALID_ARGUMENT],
    ['readConversation', { id: 'absent' }, 'NOT_FOUND', status.NOT_FOUND],
    ['updateConversation', { topic: 't' }, 'MISSING_ID', status.INVALID_ARGUMENT],
    ['updateConversation', { id: 'x' }, 'MISSING_TOPIC', status.INVALID_ARGUMENT],
    ['updateConversation', { id: 'absent', topic: 't' }, 'NOT_FOUND', status.NOT_FOUND],
    ['deleteConversation', {}, 'MISSING_ID', status.INVALID_ARGUMENT],
    ['listConversations', {}, 'MISSING_GROUP_ID', status.INVALID_ARGUMENT],
    ['listConversations', { groupId: 'g', limit: -1 }, 'INVALID_ARGUMENT', status.INVALID_ARGUMENT],
    ['createMessage', { conversationId: 'c', text: 'x' }, 'MISSING_AUTHOR_ID', status.INVALID_ARGUMENT],
    ['createMessage', { authorId: 'a', text: 'x' }, 'MISSING_CONVERSATION_ID', status.INVALID_ARGUMENT],
    ['createMessage', { authorId: 'a', conversationId: 'c' }, 'MISSING_TEXT', status.INVALID_ARGUMENT],
    ['createMessage', { authorId: 'a', conversationId: 'absent', text: 'x' }, 'NOT_FOUND', status.NOT_FOUND],
    ['listMessages', {}, 'MISSING_CONVERSATION_ID', status.INVALID_ARGUMENT],
    ['listMessages', { conversationId: 'absent' }, 'NOT_FOUND', status.NOT_FOUND],
    ['listMessages', { conversationId: 'c', limit: 1001 }, 'INVALID_ARGUMENT', status.INVALID_ARGUMENT],
    ['listMessages', { conversationId: 'c', sentBefore: { seconds: '253402300800', nanos: 0 } }, 'INVALID_ARGUMENT', status.INVALID_ARGUMENT],
    ['recentMessages', {}, 'MISSING_CONVERSATION_IDS', status.INVALID_ARGUMENT],
    ['recentMessages', { conversationIds: ['c'], limitPerConversation: 101 }, 'INVALID_ARGUMENT', status.INVALID_ARGUMENT],
  ] as const)('%s %j fails with %s', async (method, req, reason, code) => {
    const call = (s.svc.streams as unknown as Record<string, (r: object) => Promise<unknown>>)[method](req);
    expect(await failure(call)).toMatchObject({ code, reason });
  });
});

describe('isolation between the three APIs', () => {
  it('a thread id is not a conversation id nor a chat id, and deleting one leaves the others', async () => {
    const thread = (await s.svc.threads.createThread({ groupId: 'iso', topic: 't' })).thread!;
    await s.svc.threads.createMessage({ threadId: thread.id, authorId: 'a', text: 'in thread' });
    expect(await failure(s.svc.streams.readConversation({ id: thread.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.streams.listMessages({ conversationId: thread.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.chats.sendMessage({ chatId: thread.id, authorId: 'a', text: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect((await s.svc.streams.listConversations({ groupId: 'iso' })).conversations).toEqual([]);
    await s.svc.streams.deleteConversation({ id: thread.id });
    expect((await s.svc.threads.listMessages({ threadId: thread.id })).messages).toHaveLength(1);

    const chat = (await s.svc.chats.createChat({ userIds: ['a', 'b'], id: 'shared-id' })).chat!;
    expect(await failure(s.svc.threads.readThread({ id: chat.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    await s.svc.threads.deleteThread({ id: 'shared-id' });
    expect(stable((await s.svc.chats.createChat({ userIds: ['b', 'a'] })).chat)).toEqual(stable(chat));
  });
});
