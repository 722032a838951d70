/**
 * Every route group end to end through the JSON gateway: HTTP on a real
 * socket → gateway → gRPC on a real socket → the service → a real Redis.
 * Assertions are on what an HTTP caller sees (status, headers, JSON).
 */
import { useGatewayStack } from '../helpers/stack';

const stack = useGatewayStack();

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const DECIMAL = /^\d+$/;

describe('threads.Threads', () => {
  it('creates, reads, updates, lists and deletes a thread, snake_case out', async () => {
    const created = await stack.gw.post('/threads/Threads/CreateThread', { group_id: 'tg1', topic: 'hello' });
    expect(created.status).toBe(200);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);
    const thread = created.body.thread;
    expect(Object.keys(thread).sort()).toEqual([
      'created_at', 'created_by', 'deleted_at', 'group_id', 'id', 'last_message_at', 'message_count', 'metadata',
      'parent_message_id', 'parent_thread_id', 'participants', 'topic', 'unread_count', 'updated_at',
    ]);
    expect(thread).toMatchObject({ group_id: 'tg1', topic: 'hello' });
    expect(thread.created_at).toMatch(RFC3339);

    const read = await stack.gw.post('/threads/Threads/ReadThread', { id: thread.id, group_id: 'tg1' });
    expect(read).toMatchObject({ status: 200, body: { thread } });

    const updated = await stack.gw.post('/threads/Threads/UpdateThread', { id: thread.id, topic: 'bye' });
    expect(updated).toMatchObject({ status: 200, body: { thread: { ...thread, topic: 'bye', updated_at: updated.body.thread.updated_at } } });
    expect(updated.body.thread.updated_at > thread.updated_at).toBe(true);

    const listed = await stack.gw.post('/threads/Threads/ListThreads', { group_id: 'tg1' });
    expect(listed).toMatchObject({ status: 200, body: { threads: [updated.body.thread] } });

    const deleted = await stack.gw.post('/threads/Threads/DeleteThread', { id: thread.id });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({});
    expect((await stack.gw.post('/threads/Threads/ReadThread', { id: thread.id })).status).toBe(404);
    // Deleting again succeeds, as the contract says.
    expect((await stack.gw.post('/threads/Threads/DeleteThread', { id: thread.id })).status).toBe(200);
  });

  it('messages: client ids are idempotent; limit/offset as string or number; order; RecentMessages', async () => {
    const { body } = await stack.gw.post('/threads/Threads/CreateThread', { groupId: 'tg2', topic: 't' });
    const threadId = body.thread.id as string;
    const texts = ['one', 'two', 'three'];
    const sent = [];
    for (const text of texts) {
      const r = await stack.gw.post('/threads/Threads/CreateMessage', { thread_id: threadId, author_id: 'ann', text, id: `m-${text}` });
      expect(r.status).toBe(200);
      expect(Object.keys(r.body.message).sort()).toEqual(['author_id', 'deleted_at', 'edited_at', 'id', 'metadata', 'sent_at', 'seq', 'text', 'thread_id']);
      expect(r.body.message.sent_at).toMatch(RFC3339);
      expect(r.body.message.seq).toMatch(DECIMAL); // uint64: a string
      sent.push(r.body.message);
    }
    // Same client id again (camelCase this time): the stored message, unchanged.
    const again = await stack.gw.post('/threads/Threads/CreateMessage', { threadId, authorId: 'bob', text: 'other', id: 'm-one' });
    expect(again).toMatchObject({ status: 200, body: { message: sent[0] } });

    const all = await stack.gw.post('/threads/Threads/ListMessages', { thread_id: threadId });
    expect(all.body.messages.map((m: { text: string }) => m.text)).toEqual(['three', 'two', 'one']);
    const page = await stack.gw.post('/threads/Threads/ListMessages', { threadId, limit: '1', offset: 1, order: 'asc' });
    expect(page).toMatchObject({ status: 200, body: { messages: [sent[1]] } });

    const recent = await stack.gw.post('/threads/Threads/RecentMessages', { thread_ids: [threadId, 'absent'], limit_per_thread: 2 });
    expect(recent.status).toBe(200);
    expect(recent.body.messages.map((m: { text: string }) => m.text)).toEqual(['three', 'two']);
    const byGroup = await stack.gw.post('/threads/Threads/RecentMessages', { groupId: 'tg2', limitPerThread: '1' });
    expect(byGroup.body.messages).toEqual([sent[2]]);
  });

  it('writes every response field: an empty list as []', async () => {
    expect(await stack.gw.post('/threads/Threads/ListThreads', { group_id: 'nobody-here' })).toMatchObject({
      status: 200,
      body: { threads: [] },
    });
    expect((await stack.gw.post('/threads/Threads/RecentMessages', { thread_ids: ['absent'] })).body).toEqual({ messages: [] });
  });
});

describe('chats.Chats', () => {
  it('CreateChat sorts user ids and returns the same chat for the same set; int64 times are exact decimal strings', async () => {
    const a = await stack.gw.post('/chats/Chats/CreateChat', { user_ids: ['zed', 'amy'] });
    expect(a.status).toBe(200);
    expect(a.body.chat.user_ids).toEqual(['amy', 'zed']);
    expect(a.body.chat.created_at).toMatch(DECIMAL);
    expect(BigInt(a.body.chat.created_at)).toBeGreaterThan(2n ** 53n);
    const b = await stack.gw.post('/chats/Chats/CreateChat', { userIds: ['amy', 'zed'] });
    expect(b.body).toEqual(a.body);

    const m = await stack.gw.post('/chats/Chats/SendMessage', { chat_id: a.body.chat.id, author_id: 'amy', text: 'hi', id: 'c1' });
    expect(m.status).toBe(200);
    expect(Object.keys(m.body.message).sort()).toEqual(['author_id', 'chat_id', 'deleted_at', 'edited_at', 'id', 'metadata', 'sent_at', 'seq', 'text']);
    expect(m.body.message.sent_at).toMatch(DECIMAL);

    // The same nanoseconds as the service holds, digit for digit (a JSON number would have lost the last ones).
    const viaGrpc = await stack.svc.chats.listMessages({ chatId: a.body.chat.id });
    expect(viaGrpc.messages[0].sentAt).toBe(m.body.message.sent_at);
    const listed = await stack.gw.post('/chats/Chats/ListMessages', { chatId: a.body.chat.id, limit: '10', order: 'asc' });
    expect(listed).toMatchObject({ status: 200, body: { messages: [m.body.message] } });
  });
});

describe('streams.Streams and its /protobuf/Streams alias', () => {
  it('serves the same data under both prefixes, with Timestamps as RFC 3339', async () => {
    const c = await stack.gw.post('/protobuf/Streams/CreateConversation', { group_id: 'sg1', topic: 'news' });
    expect(c.status).toBe(200);
    const conv = c.body.conversation; // a single object, not the seed's one-element array
    expect(Object.keys(conv).sort()).toEqual(['created_at', 'group_id', 'id', 'last_message_at', 'message_count', 'metadata', 'topic', 'unread_count', 'updated_at']);
    expect(conv.created_at).toMatch(RFC3339);
    expect((await stack.gw.post('/streams/Streams/ReadConversation', { id: conv.id })).body).toEqual({ conversation: conv });
    const upd = await stack.gw.post('/protobuf/Streams/UpdateConversation', { id: conv.id, topic: 'weather' });
    expect(upd.body).toEqual({ conversation: { ...conv, topic: 'weather', updated_at: upd.body.conversation.updated_at } });
    const list = await stack.gw.post('/streams/Streams/ListConversations', { group_id: 'sg1', limit: 5 });
    expect(list.body).toMatchObject({ conversations: [upd.body.conversation], next_cursor: '', has_more: false });
    expect((await stack.gw.post('/protobuf/Streams/DeleteConversation', { id: conv.id })).body).toEqual({});
    expect((await stack.gw.post('/streams/Streams/ReadConversation', { id: conv.id })).status).toBe(404);
  });

  it('ReadConversation group_id is a StringValue given as a plain string, in either name style', async () => {
    const { body } = await stack.gw.post('/streams/Streams/CreateConversation', { groupId: 'sg2', topic: 't' });
    const id = body.conversation.id;
    expect((await stack.gw.post('/streams/Streams/ReadConversation', { id, group_id: 'sg2' })).status).toBe(200);
    expect((await stack.gw.post('/streams/Streams/ReadConversation', { id, groupId: 'sg2' })).status).toBe(200);
    const wrong = await stack.gw.post('/streams/Streams/ReadConversation', { id, group_id: 'other' });
    expect(wrong).toMatchObject({ status: 404, body: { id: 'NOT_FOUND', code: 404, status: 'Not Found' } });
    // null is "unset": no group check.
    expect((await stack.gw.post('/streams/Streams/ReadConversation', { id, group_id: null })).status).toBe(200);
  });

  it('ListMessages pages with sent_before (RFC 3339, nanoseconds) and limit (Int32Value as a plain number)', async () => {
    const { body } = await stack.gw.post('/protobuf/Streams/CreateConversation', { group_id: 'sg3', topic: 't' });
    const conversation_id = body.conversation.id;
    const msgs = [];
    for (const text of ['a', 'b', 'c']) {
      const r = await stack.gw.post('/protobuf/Streams/CreateMessage', { conversation_id, author_id: 'u', text });
      expect(r.status).toBe(200);
      expect(r.body.message.sent_at).toMatch(RFC3339);
      expect(r.body.message.seq).toMatch(DECIMAL);
      msgs.push(r.body.message);
    }
    // The third message's time written with all nine fraction digits: the same instant.
    const nanos = toNineDigits(msgs[2].sent_at);
    expect(nanos).toMatch(/\.\d{9}Z$/);
    const before = await stack.gw.post('/streams/Streams/ListMessages', { conversation_id, sent_before: nanos, limit: 1 });
    expect(before).toMatchObject({ status: 200, body: { messages: [msgs[1]] } });
    const camel = await stack.gw.post('/streams/Streams/ListMessages', { conversationId: conversation_id, sentBefore: nanos });
    expect(camel.body.messages).toEqual([msgs[1], msgs[0]]);
    const all = await stack.gw.post('/streams/Streams/ListMessages', { conversation_id });
    expect(all.body.messages).toEqual([msgs[2], msgs[1], msgs[0]]);

    const recent = await stack.gw.post('/streams/Streams/RecentMessages', { conversation_ids: [conversation_id], limit_per_conversation: 2 });
    expect(recent.body).toEqual({ messages: [msgs[2], msgs[1]] });
  });
});

describe('request id', () => {
  it('echoes the caller x-request-id, or makes one up', async () => {
    const given = await stack.gw.post('/threads/Threads/ListThreads', { group_id: 'g' }, { 'x-request-id': 'req-123' });
    expect(given.headers.get('x-request-id')).toBe('req-123');
    const made = await stack.gw.post('/threads/Threads/ListThreads', { group_id: 'g' });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const err = await stack.gw.post('/no/Such/Thing', {});
    expect(err.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

/** `...T10:00:00.5Z` → `...T10:00:00.500000000Z`. */
function toNineDigits(ts: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts)!;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
}

describe('keyset paging over JSON, alike in both modes', () => {
  it('walks a thread with after: next_cursor, catches up with before: prev_cursor, and refuses bad cursors by id', async () => {
    const t = (await stack.gw.post('/threads/Threads/CreateThread', { group_id: 'json-cursors', topic: 'walk' })).body.thread;
    for (let i = 0; i < 5; i++) await stack.gw.post('/threads/Threads/CreateMessage', { thread_id: t.id, author_id: 'a', text: `m${i}` });
    const seen: string[] = [];
    let after = '';
    for (;;) {
      const r = await stack.gw.post('/threads/Threads/ListMessages', { thread_id: t.id, limit: 2, order: 'asc', after });
      expect(r.status).toBe(200);
      expect(Object.keys(r.body).sort()).toEqual(['feed_cursor', 'has_more', 'messages', 'next_cursor', 'prev_cursor']);
      seen.push(...r.body.messages.map((m: { seq: string }) => m.seq));
      if (!r.body.next_cursor) break;
      after = r.body.next_cursor;
    }
    expect(seen).toEqual(['1', '2', '3', '4', '5']);

    const newest = await stack.gw.post('/threads/Threads/ListMessages', { thread_id: t.id, limit: 2 });
    await stack.gw.post('/threads/Threads/CreateMessage', { thread_id: t.id, author_id: 'a', text: 'late' });
    const since = await stack.gw.post('/threads/Threads/ListMessages', { threadId: t.id, before: newest.body.prev_cursor });
    expect(since.body.messages.map((m: { text: string }) => m.text)).toEqual(['late']);

    const bad = await stack.gw.post('/threads/Threads/ListMessages', { thread_id: t.id, after: 'AQEAAAAAAAAAAQ' });
    expect(bad).toMatchObject({ status: 400, body: { id: 'INVALID_CURSOR' } });
    expect(bad.body.detail).toContain('after');
    const both = await stack.gw.post('/threads/Threads/ListMessages', { thread_id: t.id, after: newest.body.next_cursor, before: newest.body.prev_cursor });
    expect(both).toMatchObject({ status: 400, body: { id: 'INVALID_ARGUMENT' } });
    expect(both.body.detail).toContain('before');
  });
});
