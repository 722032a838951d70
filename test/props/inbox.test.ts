/**
 * Read state against a model: random sends (by any member), deletes,
 * restores and MarkRead calls on one chat, and after every step each
 * member's unread count (ReadChat, ListChats, GetUnread) and the chat's
 * message count agree with the model: the visible messages after the
 * member's pointer, which only moves forward.
 */
import fc from 'fast-check';
import { failure } from '../helpers/grpc';
import { useStack } from '../helpers/stack';

const s = useStack();
const USERS = ['m0', 'm1', 'm2'];

type Command =
  | { op: 'send'; by: number }
  | { op: 'delete' | 'restore'; at: number }
  | { op: 'mark'; by: number; at: number | null };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('send' as const), by: fc.nat(USERS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('delete' as const, 'restore' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mark' as const), by: fc.nat(USERS.length - 1), at: fc.option(fc.nat(), { nil: null }) }) },
);

it('unread counts and message counts follow the model after every step', async () => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 16 }), async (commands) => {
      const users = USERS.map((u) => `${u}-${run}`);
      run++;
      const c = s.svc.chats;
      const chatId = (await c.createChat({ userIds: users })).chat!.id;
      const messages: { id: string; seq: number; deleted: boolean }[] = [];
      const pointer = new Map<string, number>();
      for (const cmd of commands) {
        if (cmd.op === 'send') {
          const m = (await c.sendMessage({ chatId, authorId: users[cmd.by], text: 'x' })).message!;
          messages.push({ id: m.id, seq: Number(m.seq), deleted: false });
          pointer.set(users[cmd.by], Math.max(pointer.get(users[cmd.by]) ?? 0, Number(m.seq)));
        } else if (cmd.op === 'mark') {
          const user = users[cmd.by];
          if (cmd.at === null || messages.length === 0) {
            await c.markRead({ chatId, userId: user });
            pointer.set(user, Math.max(pointer.get(user) ?? 0, messages.length));
          } else {
            const m = messages[cmd.at % messages.length];
            await c.markRead({ chatId, userId: user, messageId: m.id });
            pointer.set(user, Math.max(pointer.get(user) ?? 0, m.seq));
          }
        } else if (messages.length > 0) {
          const m = messages[cmd.at % messages.length];
          if (cmd.op === 'delete') await c.deleteMessage({ chatId, id: m.id });
          else await c.restoreMessage({ chatId, id: m.id });
          m.deleted = cmd.op === 'delete';
        }
        const visible = messages.filter((m) => !m.deleted);
        for (const user of users) {
          const want = visible.filter((m) => m.seq > (pointer.get(user) ?? 0)).length;
          const chat = (await c.readChat({ id: chatId, userId: user })).chat!;
          expect({ user, unread: Number(chat.unreadCount), count: Number(chat.messageCount) }).toEqual({ user, unread: want, count: visible.length });
          const listed = (await c.listChats({ userId: user })).chats.find((x) => x.id === chatId)!;
          expect(Number(listed.unreadCount)).toBe(want);
          const totals = await c.getUnread({ userId: user });
          expect(Number(totals.total)).toBe(want);
        }
      }
      await c.deleteChat({ id: chatId });
    }),
    { numRuns: 25 },
  );
});

it('MarkRead of a message not in the chat is NOT_FOUND and moves nothing', async () => {
  const c = s.svc.chats;
  const chatId = (await c.createChat({ userIds: ['nf-a', 'nf-b'] })).chat!.id;
  await c.sendMessage({ chatId, authorId: 'nf-a', text: 'x' });
  expect(await failure(c.markRead({ chatId, userId: 'nf-b', messageId: 'elsewhere' }))).toMatchObject({ reason: 'NOT_FOUND' });
  expect((await c.readChat({ id: chatId, userId: 'nf-b' })).chat!.unreadCount).toBe('1');
});
