import { useStack } from '../helpers/stack';
import { failure, stable } from '../helpers/grpc';

const s = useStack();

/** Ids built to collide with each other under naive key joining or glob matching. */
const HOSTILE = [
  'a',
  'a:b',
  'a%3Ab',
  'a:b:meta',
  '{a}',
  'a}',
  '{a',
  '}{',
  '*',
  '?',
  '[a]',
  'a b',
  'a\tb',
  'ü',
  'u\u0308',
  '日本語',
  '😀',
  'default:t:x',
  '{default:t:x}:meta',
  'pl1:{default:t:x}:seq',
  '..',
  '',
  ' ',
  'a'.repeat(256),
];

it('group ids that look alike list only their own threads', async () => {
  const groups = HOSTILE.filter((g) => g !== '');
  const made = new Map<string, string>();
  for (const g of groups) made.set(g, (await s.svc.threads.createThread({ groupId: g, topic: `topic of ${g}` })).thread!.id);
  for (const g of groups) {
    const list = (await s.svc.threads.listThreads({ groupId: g })).threads;
    expect(list.map((t) => t.id)).toEqual([made.get(g)]);
    expect(list[0].groupId).toBe(g);
    const recent = await s.svc.threads.recentMessages({ groupId: g });
    expect(recent.messages).toEqual([]);
  }
});

it('message client ids that look alike are separate messages in one thread', async () => {
  const { thread } = await s.svc.threads.createThread({ groupId: 'hostile-msgs', topic: 't' });
  const ids = HOSTILE.filter((i) => i !== '');
  for (const id of ids) await s.svc.threads.createMessage({ threadId: thread!.id, id, authorId: id, text: `text of ${id}` });
  const list = (await s.svc.threads.listMessages({ threadId: thread!.id, order: 'asc', limit: '100' })).messages;
  expect(list.map((m) => m.id)).toEqual(ids);
  list.forEach((m) => expect(m.text).toBe(`text of ${m.id}`));
});

it('chat ids that look alike name separate chats', async () => {
  const ids = HOSTILE.filter((i) => i !== '');
  for (const [n, id] of ids.entries()) {
    const { chat } = await s.svc.chats.createChat({ id, userIds: [`p${n}`, `q${n}`] });
    expect(chat!.id).toBe(id);
  }
  for (const [n, id] of ids.entries()) {
    const { chat } = await s.svc.chats.createChat({ id, userIds: ['someone', 'else'] });
    expect(chat!.userIds).toEqual([`p${n}`, `q${n}`]);
  }
});

it('reads, updates and deletes with hostile ids find nothing and touch nothing', async () => {
  const victim = (await s.svc.threads.createThread({ groupId: 'victims', topic: 'keep me' })).thread!;
  await s.svc.threads.createMessage({ threadId: victim.id, authorId: 'a', text: 'keep' });
  const before = await s.redis.client().dbsize();
  const probes = [...HOSTILE.filter((i) => i !== ''), `${victim.id}}`, `{${victim.id}`, `${victim.id}:meta`, `${victim.id} `, `*${victim.id.slice(1)}`];
  for (const id of probes) {
    expect(await failure(s.svc.threads.readThread({ id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.threads.updateThread({ id, topic: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.threads.createMessage({ threadId: id, authorId: 'a', text: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
    await s.svc.threads.deleteThread({ id });
  }
  expect(await s.redis.client().dbsize()).toBe(before);
  expect(stable((await s.svc.threads.readThread({ id: victim.id })).thread)).toEqual(stable(victim));
  expect((await s.svc.threads.listMessages({ threadId: victim.id })).messages.map((m) => m.text)).toEqual(['keep']);
});

it('Streams and Chats: hostile ids near a real conversation and chat find nothing and touch nothing', async () => {
  const conv = (await s.svc.streams.createConversation({ groupId: 'victims', topic: 'keep me' })).conversation!;
  await s.svc.streams.createMessage({ conversationId: conv.id, authorId: 'a', text: 'keep' });
  const chat = (await s.svc.chats.createChat({ userIds: ['victim-1', 'victim-2'] })).chat!;
  await s.svc.chats.sendMessage({ chatId: chat.id, authorId: 'victim-1', text: 'keep' });
  const before = await s.redis.client().dbsize();
  const near = (id: string) => [`${id}}`, `{${id}`, `${id}:meta`, `${id}:msg`, `${id} `, `*${id.slice(1)}`, `${id.slice(0, -1)}?`];
  const probes = [...HOSTILE.filter((i) => i !== ''), ...near(conv.id), ...near(chat.id)];
  for (const id of probes) {
    expect(await failure(s.svc.streams.readConversation({ id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.streams.updateConversation({ id, topic: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.streams.createMessage({ conversationId: id, authorId: 'a', text: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.streams.listMessages({ conversationId: id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect((await s.svc.streams.recentMessages({ conversationIds: [id] })).messages).toEqual([]);
    await s.svc.streams.deleteConversation({ id });
  }
  // (The HOSTILE ids themselves are real chats since the test above.)
  for (const id of near(chat.id)) {
    expect(await failure(s.svc.chats.sendMessage({ chatId: id, authorId: 'a', text: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.chats.listMessages({ chatId: id }))).toMatchObject({ reason: 'NOT_FOUND' });
  }
  expect(await s.redis.client().dbsize()).toBe(before);
  expect(stable((await s.svc.streams.readConversation({ id: conv.id })).conversation)).toEqual(stable(conv));
  expect((await s.svc.streams.listMessages({ conversationId: conv.id })).messages.map((m) => m.text)).toEqual(['keep']);
  expect((await s.svc.chats.listMessages({ chatId: chat.id })).messages.map((m) => m.text)).toEqual(['keep']);
});
