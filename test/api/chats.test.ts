import { status } from '@grpc/grpc-js';
import { TEST_TOKEN } from '../helpers/service';
import { clients, failure } from '../helpers/grpc';
import { useStack } from '../helpers/stack';

const s = useStack();

describe('CreateChat', () => {
  it('creates a chat with sorted user ids and an int64 nanosecond created_at', async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const { chat } = await s.svc.chats.createChat({ userIds: ['zoe', 'adam', 'mia'] });
    expect(chat!.userIds).toEqual(['adam', 'mia', 'zoe']);
    expect(chat!.createdAt).toMatch(/^\d{19}$/);
    const created = BigInt(chat!.createdAt);
    expect(created).toBeGreaterThanOrEqual(before - 1_000_000_000n);
    expect(created).toBeLessThan(before + 60_000_000_000n);
  });

  it('the same set in any order gets the same chat', async () => {
    const a = (await s.svc.chats.createChat({ userIds: ['u1', 'u2', 'u3'] })).chat;
    const b = (await s.svc.chats.createChat({ userIds: ['u3', 'u1', 'u2'] })).chat;
    const c = (await s.svc.chats.createChat({ userIds: ['u2', 'u3', 'u1', 'u1'] })).chat;
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const other = (await s.svc.chats.createChat({ userIds: ['u1', 'u2'] })).chat;
    expect(other!.id).not.toBe(a!.id);
  });

  it('50 racing CreateChat calls from several connections, in different orders, make one chat', async () => {
    const conns = Array.from({ length: 5 }, () => clients(s.svc.address, TEST_TOKEN));
    const users = ['r1', 'r2', 'r3', 'r4'];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const order = [...users].sort(() => (i % 3) - 1);
        return conns[i % conns.length].chats.createChat({ userIds: order });
      }),
    );
    conns.forEach((c) => c.close());
    const ids = new Set(results.map((r) => r.chat!.id));
    const created = new Set(results.map((r) => r.chat!.createdAt));
    expect(ids.size).toBe(1);
    expect(created.size).toBe(1);
  });

  it('sets crafted to collide under naive joining stay apart', async () => {
    const sets = [
      ['a,b', 'c'],
      ['a', 'b,c'],
      ['a:b', 'c'],
      ['a', 'b:c'],
      ['a|b', 'c'],
      ['a', 'b|c'],
      ['a', 'b', 'c'],
      ['a\u0000b', 'c'],
      ['a', '\u0000b', 'c'],
      ['{x}', 'y'],
      ['x', '}y'],
      ['["a","b"]', 'c'],
      ['a', 'b"]', 'c'],
      ['1:a', '1:b'],
      ['1:a1:b', 'c'],
    ];
    const chats = [];
    for (const set of sets) chats.push((await s.svc.chats.createChat({ userIds: set })).chat!);
    expect(new Set(chats.map((c) => c.id)).size).toBe(sets.length);
    chats.forEach((c, i) => expect(c.userIds).toEqual([...new Set(sets[i])].sort()));
  });

  it('a given id that exists returns that chat; a new given id is used', async () => {
    const made = (await s.svc.chats.createChat({ userIds: ['g1', 'g2'], id: 'my-chat' })).chat!;
    expect(made.id).toBe('my-chat');
    expect((await s.svc.chats.createChat({ userIds: ['g2', 'g1'] })).chat).toEqual(made);
    expect((await s.svc.chats.createChat({ id: 'my-chat', userIds: ['x', 'y'] })).chat).toEqual(made);
    // The set already has a chat: another given id gets that chat.
    expect((await s.svc.chats.createChat({ id: 'another', userIds: ['g1', 'g2'] })).chat).toEqual(made);
  });

  it.each([
    ['no user ids', { userIds: [] }, 'MISSING_USER_IDS'],
    ['one user id', { userIds: ['a'] }, 'MISSING_USER_IDS'],
    ['a repeated id leaving one user', { userIds: ['u', 'u'] }, 'INVALID_ARGUMENT'],
    ['an empty user id', { userIds: ['u', ''] }, 'INVALID_ARGUMENT'],
    ['101 users', { userIds: Array.from({ length: 101 }, (_, i) => `u${i}`) }, 'TOO_MANY_IDS'],
    ['a user id over 256 bytes', { userIds: ['a', 'b'.repeat(257)] }, 'FIELD_TOO_LONG'],
  ] as const)('refuses %s', async (_l, req, reason) => {
    expect(await failure(s.svc.chats.createChat(req as { userIds: string[] }))).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
  });
});

describe('SendMessage / ListMessages', () => {
  it('sends and lists, newest first by default, with exact int64 sent_at', async () => {
    const { chat } = await s.svc.chats.createChat({ userIds: ['s1', 's2'] });
    const sent = [];
    for (let i = 0; i < 5; i++) {
      sent.push((await s.svc.chats.sendMessage({ chatId: chat!.id, authorId: i % 2 ? 's1' : 's2', text: `hi ${i}` })).message!);
    }
    for (const m of sent) expect(m.sentAt).toMatch(/^\d{19}$/);
    for (let i = 1; i < sent.length; i++) expect(BigInt(sent[i].sentAt) > BigInt(sent[i - 1].sentAt)).toBe(true);
    const list = (await s.svc.chats.listMessages({ chatId: chat!.id })).messages;
    expect(list).toEqual([...sent].reverse());
    expect(list[0]).toMatchObject({ chatId: chat!.id, text: 'hi 4', seq: '5' });
    const asc = (await s.svc.chats.listMessages({ chatId: chat!.id, order: 'asc', limit: '2', offset: '1' })).messages;
    expect(asc).toEqual(sent.slice(1, 3));
  });

  it('a client id is idempotent under 50 concurrent retries', async () => {
    const { chat } = await s.svc.chats.createChat({ userIds: ['i1', 'i2'] });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => s.svc.chats.sendMessage({ chatId: chat!.id, id: 'same', authorId: 'i1', text: `${i}` })),
    );
    expect(new Set(results.map((r) => JSON.stringify(r.message))).size).toBe(1);
    expect((await s.svc.chats.listMessages({ chatId: chat!.id })).messages).toHaveLength(1);
  });

  it.each([
    ['sendMessage', { chatId: 'c', text: 'x' }, 'MISSING_AUTHOR_ID', status.INVALID_ARGUMENT],
    ['sendMessage', { authorId: 'a', text: 'x' }, 'MISSING_CHAT_ID', status.INVALID_ARGUMENT],
    ['sendMessage', { authorId: 'a', chatId: 'c' }, 'MISSING_TEXT', status.INVALID_ARGUMENT],
    ['sendMessage', { authorId: 'a', chatId: 'absent', text: 'x' }, 'NOT_FOUND', status.NOT_FOUND],
    ['listMessages', {}, 'MISSING_CHAT_ID', status.INVALID_ARGUMENT],
    ['listMessages', { chatId: 'absent' }, 'NOT_FOUND', status.NOT_FOUND],
    ['listMessages', { chatId: 'c', order: 'up' }, 'INVALID_ARGUMENT', status.INVALID_ARGUMENT],
  ] as const)('%s %j fails with %s', async (method, req, reason, code) => {
    const call = (s.svc.chats as unknown as Record<string, (r: object) => Promise<unknown>>)[method](req);
    expect(await failure(call)).toMatchObject({ code, reason });
  });
});

describe('DeleteChat', () => {
  it('removes the chat, its messages and its user-set key; the same users later get a new, empty chat', async () => {
    const { chat } = await s.svc.chats.createChat({ userIds: ['del-a', 'del-b'] });
    await s.svc.chats.sendMessage({ chatId: chat!.id, authorId: 'del-a', text: 'bye' });
    const raw = s.redis.client();
    const keysBefore = await raw.keys(`*${chat!.id}*`);
    expect(keysBefore.length).toBeGreaterThanOrEqual(3);
    const setKeys = (await raw.keys('pl1:{default:cu:*')).length;

    expect(await s.svc.chats.deleteChat({ id: chat!.id })).toEqual({});
    expect(await raw.keys(`*${chat!.id}*`)).toEqual([]);
    expect((await raw.keys('pl1:{default:cu:*')).length).toBe(setKeys - 1);
    expect(await failure(s.svc.chats.listMessages({ chatId: chat!.id }))).toMatchObject({ code: status.NOT_FOUND, reason: 'NOT_FOUND' });
    expect(await failure(s.svc.chats.sendMessage({ chatId: chat!.id, authorId: 'del-a', text: 'x' }))).toMatchObject({ code: status.NOT_FOUND });

    const again = (await s.svc.chats.createChat({ userIds: ['del-b', 'del-a'] })).chat!;
    expect(again.id).not.toBe(chat!.id);
    expect((await s.svc.chats.listMessages({ chatId: again.id })).messages).toEqual([]);
  });

  it('an absent id succeeds; a missing id is MISSING_ID', async () => {
    expect(await s.svc.chats.deleteChat({ id: 'no-such-chat' })).toEqual({});
    expect(await failure(s.svc.chats.deleteChat({ id: '' }))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'MISSING_ID' });
  });

  it('interrupted after its first step (the mapping gone, the chat not yet): the set gets a new chat, and a retried delete removes the old one', async () => {
    const { chat } = await s.svc.chats.createChat({ userIds: ['int-a', 'int-b'] });
    await s.svc.chats.sendMessage({ chatId: chat!.id, authorId: 'int-a', text: 'old' });
    // The first step alone: the user-set mapping (its own slot) goes, the chat stays.
    const raw = s.redis.client();
    const before = await raw.keys('pl1:{default:cu:*');
    const again = await (async () => {
      for (const key of before) if ((await raw.get(key)) === chat!.id) await raw.del(key);
      return (await s.svc.chats.createChat({ userIds: ['int-a', 'int-b'] })).chat!;
    })();
    expect(again.id).not.toBe(chat!.id);
    expect((await s.svc.chats.listMessages({ chatId: again.id })).messages).toEqual([]);
    // The caller saw its DeleteChat fail and retries it: the old chat goes, the new one stays.
    expect(await s.svc.chats.deleteChat({ id: chat!.id })).toEqual({});
    expect(await raw.keys(`*:c:${chat!.id}}*`)).toEqual([]);
    expect((await s.svc.chats.createChat({ userIds: ['int-b', 'int-a'] })).chat!.id).toBe(again.id);
  });

  it('DeleteChat racing CreateChat of the same set: afterwards the set has exactly one chat, and it exists', async () => {
    for (let round = 0; round < 10; round++) {
      const users = [`race-${round}-a`, `race-${round}-b`];
      const { chat } = await s.svc.chats.createChat({ userIds: users });
      await Promise.all([s.svc.chats.deleteChat({ id: chat!.id }), s.svc.chats.createChat({ userIds: users }), s.svc.chats.createChat({ userIds: users })]);
      const a = (await s.svc.chats.createChat({ userIds: users })).chat!;
      const b = (await s.svc.chats.createChat({ userIds: [...users].reverse() })).chat!;
      expect(b.id).toBe(a.id);
      // The chat the set maps to is a real one: messages can be sent to it.
      expect((await s.svc.chats.sendMessage({ chatId: a.id, authorId: users[0], text: 'x' })).message?.seq).toBe('1');
    }
  });
});
