/**
 * The service on a real Redis Cluster (three nodes on loopback), started as
 * `make start` would start it with REDIS_CLUSTER_NODES set to one seed. Every
 * multi-key write is a script over one container's keys, which share a hash
 * tag, so no call meets a CROSSSLOT error while containers spread over nodes.
 */
import { containerKeys } from '../../src/store/keys';
import { encodeNewMessage } from '../../src/store/record';
import { RedisStore } from '../../src/store/redis-store';
import { subscribe } from '../helpers/feed';
import { clients, failure, type Clients } from '../helpers/grpc';
import { startService, type ServiceProcess } from '../helpers/process';
import { startCluster, type TestCluster } from '../helpers/redis-cluster';
import { status } from '@grpc/grpc-js';

const TOKEN = 'cluster-test-token-0001';
let cluster: TestCluster;
let svc: ServiceProcess;
let c: Clients;

beforeAll(async () => {
  cluster = await startCluster(3);
  svc = await startService({ REDIS_CLUSTER_NODES: cluster.seeds[0], GRPC_PORT: '0', API_KEYS: `default:${TOKEN}` }).catch(
    async (e) => {
      await cluster.stop();
      throw e;
    },
  );
  c = clients(`127.0.0.1:${svc.port}`, TOKEN);
}, 60_000);
afterAll(async () => {
  c?.close();
  await svc?.stop();
  await cluster?.stop();
});

it('threads: concurrent writes keep seq and order per thread, groups list across slots, delete removes every key', async () => {
  const threads = await Promise.all(Array.from({ length: 12 }, (_, i) => c.threads.createThread({ groupId: 'team', topic: `t${i}` })));
  const ids = threads.map((t) => t.thread!.id);
  await Promise.all(ids.flatMap((threadId) => Array.from({ length: 20 }, (_, k) => c.threads.createMessage({ threadId, authorId: 'a', text: `m${k}` }))));

  for (const threadId of ids) {
    const { messages } = await c.threads.listMessages({ threadId, limit: '100', order: 'asc' });
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, k) => String(k + 1)));
    // RFC 3339 with nine fraction digits: string order is time order.
    const sent = messages.map((m) => m.sentAt);
    expect(sent.every((t, k) => k === 0 || t > sent[k - 1])).toBe(true);
  }
  const listed = await c.threads.listThreads({ groupId: 'team', limit: '100' });
  expect(listed.threads.map((t) => t.id).sort()).toEqual([...ids].sort());
  const recent = await c.threads.recentMessages({ groupId: 'team', limitPerThread: '2' });
  expect(recent.messages).toHaveLength(24);

  // The threads' keys are spread over more than one node, as the slots are.
  const perNode = await Promise.all(cluster.nodes.map((n) => n.client().dbsize()));
  expect(perNode.filter((k) => k > 0).length).toBeGreaterThanOrEqual(2);

  await c.threads.deleteThread({ id: ids[0] });
  expect(await failure(c.threads.readThread({ id: ids[0] }))).toMatchObject({ code: status.NOT_FOUND });
  expect((await c.threads.listThreads({ groupId: 'team', limit: '100' })).threads).toHaveLength(11);
  const leftovers = await Promise.all(cluster.nodes.map((n) => n.client().keys(`*${ids[0]}*`)));
  expect(leftovers.flat()).toEqual([]);
});

it('a richer thread on the cluster: filters across slots, the trash, and a purge that leaves no key or index entry on any node', async () => {
  const group = `rich-${Date.now()}`;
  const p = (id: string) => ({ id, type: '', name: '', role: '', metadata: {}, joinedAt: '' });
  const root = (await c.threads.createThread({ groupId: group, topic: 'root', createdBy: 'ann' })).thread!;
  const m = (await c.threads.createMessage({ threadId: root.id, authorId: 'ann', text: 'x' })).message!;
  const subs = await Promise.all(
    Array.from({ length: 6 }, async (_, i) =>
      (await c.threads.createThread({ groupId: group, topic: `s${i}`, createdBy: 'bob', parentThreadId: root.id, parentMessageId: m.id, participants: i < 3 ? [p('pat'), p('viewer')] : [] })).thread!.id,
    ),
  );
  const list = async (req: object) => (await c.threads.listThreads({ groupId: group, limit: '100', ...req })).threads.map((t) => t.id).sort();
  expect(await list({ participantId: 'pat' })).toEqual(subs.slice(0, 3).sort());
  expect(await list({ parentMessageId: 'null' })).toEqual([root.id]);
  expect(await list({ createdBy: 'bob', parentMessageId: m.id })).toEqual([...subs].sort());

  const gone = subs[0];
  await c.threads.createMessage({ threadId: gone, authorId: 'pat', text: 'hi' });
  await c.threads.markRead({ threadId: gone, userId: 'viewer', messageId: '' });
  await c.threads.softDeleteThread({ id: gone });
  expect(await list({ participantId: 'pat' })).toEqual(subs.slice(1, 3).sort());
  expect(await list({ includeDeleted: 'only' })).toEqual([gone]);
  await c.threads.purgeThread({ id: gone });

  // No key of the thread anywhere, and no entry of it in any index of the group or of its readers.
  const keys = (await Promise.all(cluster.nodes.map((n) => n.client().keys(`*${gone}*`)))).flat();
  expect(keys).toEqual([]);
  for (const n of cluster.nodes) {
    const client = n.client();
    for (const key of [...(await client.keys(`*${group}*`))]) {
      if ((await client.type(key)) === 'zset') expect([key, await client.zscore(key, gone)]).toEqual([key, null]);
    }
  }
  expect(await list({ includeDeleted: 'true' })).toEqual([root.id, ...subs.slice(1)].sort());
});

it('idempotent retries and racing CreateChat calls settle to one message and one chat', async () => {
  const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'retries' });
  await Promise.all(Array.from({ length: 20 }, () => c.threads.createMessage({ threadId: thread!.id, id: 'client-1', authorId: 'a', text: 'once' })));
  expect((await c.threads.listMessages({ threadId: thread!.id })).messages).toHaveLength(1);

  const chats = await Promise.all(Array.from({ length: 20 }, (_, i) => c.chats.createChat({ userIds: i % 2 ? ['ann', 'bob'] : ['bob', 'ann'] })));
  expect(new Set(chats.map((r) => r.chat!.id)).size).toBe(1);
  const chatId = chats[0].chat!.id;
  await c.chats.sendMessage({ chatId, authorId: 'ann', text: 'hi' });
  expect((await c.chats.listMessages({ chatId })).messages.map((m) => m.text)).toEqual(['hi']);
});

it('a page over 1 MiB (picked by a script, its records sent by HMGET in a MULTI) reads whole on the cluster', async () => {
  const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'large' });
  const threadId = thread!.id;
  const text = (i: number) => `large ${i} é "q" `.padEnd(16_000, 'l');
  for (let i = 0; i < 80; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => c.threads.createMessage({ threadId, id: `l${i + j}`, authorId: 'a', text: text(i + j) })));
  }
  const { messages } = await c.threads.listMessages({ threadId, limit: '100', order: 'asc' });
  // Sent 20 at once, so in any order of seqs: each message once, with its own text, in seq order.
  expect(messages.map((m) => Number(m.seq))).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
  for (const m of messages) expect(m.text).toBe(text(Number(m.id.slice(1))));
  expect(new Set(messages.map((m) => m.id)).size).toBe(80);
});

it('streams: paging by sent_before walks a conversation once', async () => {
  const { conversation } = await c.streams.createConversation({ groupId: 'g', topic: 'paging' });
  for (let i = 0; i < 30; i++) await c.streams.createMessage({ conversationId: conversation!.id, authorId: 'a', text: `m${i}` });
  const seen: string[] = [];
  let before: { seconds: string; nanos: number } | undefined;
  for (;;) {
    const { messages } = await c.streams.listMessages({ conversationId: conversation!.id, sentBefore: before, limit: 7 });
    if (!messages.length) break;
    seen.push(...messages.map((m) => m.text));
    before = messages[messages.length - 1].sentAt;
  }
  expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `m${29 - i}`));
});

it('the live feed on a cluster: threads on different nodes, replay then live, and chats by user_id across slots', async () => {
  const ids = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await c.threads.createThread({ groupId: 'feed', topic: `f${i}` })).thread!.id));
  const cursors = await Promise.all(ids.map(async (threadId) => (await c.threads.listMessages({ threadId })).feedCursor));
  for (const threadId of ids) await c.threads.createMessage({ threadId, authorId: 'a', text: `before ${threadId}` });
  const f = subscribe(`127.0.0.1:${svc.port}`, 'threads', { threadIds: ids, after: cursors }, TOKEN);
  const u = subscribe(`127.0.0.1:${svc.port}`, 'chats', { userId: 'feed-user' }, TOKEN);
  try {
    await Promise.all([f.live(), u.live()]);
    expect(f.events.filter((e) => e.type === 'created').map((e) => e.message!.text).sort()).toEqual(ids.map((t) => `before ${t}`).sort());
    for (const threadId of ids) await c.threads.createMessage({ threadId, authorId: 'a', text: `after ${threadId}` });
    const live = await f.live(ids.length);
    expect(live.map((e) => e.message!.text).sort()).toEqual(ids.map((t) => `after ${t}`).sort());
    // A new chat of the user (its index lives in the user's slot) is followed from its first message.
    const chatId = (await c.chats.createChat({ userIds: ['feed-user', 'other'] })).chat!.id;
    await c.chats.sendMessage({ chatId, authorId: 'other', text: 'hello' });
    expect((await u.live(1)).map((e) => [e.containerId, e.message!.text])).toEqual([[chatId, 'hello']]);
  } finally {
    f.cancel();
    u.cancel();
  }
});

it('a crash between a chat message and its inbox follow-up (another slot) is healed by the retry and by the next message', async () => {
  // The store as the service uses it, on the same cluster: its append script alone is what a
  // service that crashed right after the script would have done.
  const store = await RedisStore.connect({ clusterNodes: cluster.seeds.map(parseSeed), commandTimeoutMs: 5000 });
  try {
    const user = 'crash-user';
    const a = (await c.chats.createChat({ userIds: [user, 'crash-a'] })).chat!.id;
    const b = (await c.chats.createChat({ userIds: [user, 'crash-b'] })).chat!.id;
    await c.chats.sendMessage({ chatId: b, authorId: 'crash-b', text: 'b first' });
    const order = async () => (await c.chats.listChats({ userId: user })).chats.map((x) => x.id);
    expect(await order()).toEqual([b, a]);

    // The append of a message to chat a, in a's slot, and then the "crash": no inbox follow-up.
    const k = containerKeys('default', 'chat', a);
    const record = encodeNewMessage({ authorId: 'crash-a', text: 'lost follow-up', metadata: {} });
    await store.redis.appendMessage(k.meta, k.order, k.deleted, k.bodies, k.feed, k.reads, k.meta, k.participants, k.meta, 'client-1', record, '1', 10_000, 'crash-a', '0', '', a);
    // The message is stored, the inboxes are one message behind.
    expect((await c.chats.listMessages({ chatId: a })).messages.map((m) => m.text)).toEqual(['lost follow-up']);
    expect(await order()).toEqual([b, a]);
    // The client retries its call with the same client id: stored once, inboxes moved.
    const retried = (await c.chats.sendMessage({ chatId: a, id: 'client-1', authorId: 'crash-a', text: 'lost follow-up' })).message!;
    expect(retried.seq).toBe('1');
    expect(await order()).toEqual([a, b]);
    expect((await c.chats.listChats({ userId: user })).chats[0]).toMatchObject({ id: a, unreadCount: '1', lastMessage: { text: 'lost follow-up' } });

    // Without a retry, the chat's next message heals it.
    const kb = containerKeys('default', 'chat', b);
    await store.redis.appendMessage(kb.meta, kb.order, kb.deleted, kb.bodies, kb.feed, kb.reads, kb.meta, kb.participants, kb.meta, 'client-2', record, '1', 10_000, 'crash-b', '0', '', b);
    expect(await order()).toEqual([a, b]);
    await c.chats.sendMessage({ chatId: b, authorId: 'crash-b', text: 'next' });
    expect(await order()).toEqual([b, a]);
    expect((await c.chats.getUnread({ userId: user })).total).toBe('4');
  } finally {
    await store.close();
  }
});

it('a crash between a thread message and its group-activity follow-up (another slot) is healed by the retry and by the next message', async () => {
  const store = await RedisStore.connect({ clusterNodes: cluster.seeds.map(parseSeed), commandTimeoutMs: 5000 });
  try {
    const group = `crash-group-${Date.now()}`;
    const a = (await c.threads.createThread({ groupId: group, topic: 'a' })).thread!.id;
    const b = (await c.threads.createThread({ groupId: group, topic: 'b' })).thread!.id;
    const order = async () => (await c.threads.listThreads({ groupId: group, orderBy: 'last_message_at' })).threads.map((x) => x.id);
    expect(await order()).toEqual([b, a]);
    // The append to thread a in its slot, then the "crash": the group's order is not moved.
    const k = containerKeys('default', 'thread', a);
    const record = encodeNewMessage({ authorId: 'w', text: 'lost follow-up', metadata: {} });
    const [, , , , , , , written] = await store.redis.appendMessage(k.meta, k.order, k.deleted, k.bodies, k.feed, k.reads, k.meta, k.participants, k.meta, 'client-t1', record, '1', 10_000, 'w', '0', '', a);
    expect(written).toBe(0);
    expect(await order()).toEqual([b, a]);
    // The retry (same client id) stores nothing new and moves the order.
    expect((await c.threads.createMessage({ threadId: a, id: 'client-t1', authorId: 'w', text: 'lost follow-up' })).message!.seq).toBe('1');
    expect(await order()).toEqual([a, b]);
    // Without a retry, the thread's next message heals it.
    const kb = containerKeys('default', 'thread', b);
    await store.redis.appendMessage(kb.meta, kb.order, kb.deleted, kb.bodies, kb.feed, kb.reads, kb.meta, kb.participants, kb.meta, 'client-t2', record, '1', 10_000, 'w', '0', '', b);
    expect(await order()).toEqual([a, b]);
    await c.threads.createMessage({ threadId: b, authorId: 'w', text: 'next' });
    expect(await order()).toEqual([b, a]);
  } finally {
    await store.close();
  }
});

function parseSeed(seed: string): { host: string; port: number } {
  const [host, port] = seed.split(':');
  return { host, port: Number(port) };
}
