import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { richDetails } from '../../src/transports/grpc/status';
import { NO_RATE_LIMITS } from '../../src/core/throttle';
import { defaultLimits } from '../../src/core/limits';
import { clients, failure, type Clients, stable } from '../helpers/grpc';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, startService, TEST_TOKEN, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
let a: Clients; // namespace "default"
let b: Clients; // namespace "other"

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
  a = clients(svc.address, TEST_TOKEN);
  b = clients(svc.address, OTHER_TOKEN);
});
afterAll(async () => {
  a?.close();
  b?.close();
  await svc?.stop();
  await redis?.stop();
});

const md = (entries: Record<string, string>) => {
  const m = new Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
};

describe('authentication', () => {
  const anon = () => clients(svc.address);
  it.each([
    ['no authorization', {}],
    ['an empty bearer token', { authorization: 'Bearer ' }],
    ['just "Bearer"', { authorization: 'Bearer' }],
    ['Basic credentials', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['an unknown token', { authorization: 'Bearer not-a-known-token' }],
    ['a known token with a suffix', { authorization: `Bearer ${TEST_TOKEN}x` }],
    ['a token without the scheme', { authorization: TEST_TOKEN }],
  ])('%s is UNAUTHENTICATED UNAUTHORIZED on every service', async (_l, headers) => {
    const c = anon();
    for (const call of [
      c.threads.listThreads({ groupId: 'g' }, md(headers)),
      c.chats.listMessages({ chatId: 'x' }, md(headers)),
      c.streams.listConversations({ groupId: 'g' }, md(headers)),
    ]) {
      expect(await failure(call)).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'UNAUTHORIZED' });
    }
    c.close();
  });

  it('authentication comes before validation: a bad request without a token is UNAUTHORIZED', async () => {
    const c = anon();
    expect(await failure(c.threads.createThread({}))).toMatchObject({ reason: 'UNAUTHORIZED' });
    c.close();
  });

  it('a micro-namespace other than the token\'s is PERMISSION_DENIED FORBIDDEN; the same one is fine', async () => {
    expect(await failure(a.threads.listThreads({ groupId: 'g' }, md({ authorization: `Bearer ${TEST_TOKEN}`, 'micro-namespace': 'other' })))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: 'FORBIDDEN',
    });
    await expect(a.threads.listThreads({ groupId: 'g' }, md({ authorization: `Bearer ${TEST_TOKEN}`, 'micro-namespace': 'default' }))).resolves.toMatchObject({ threads: [] });
    await expect(a.threads.listThreads({ groupId: 'g' }, md({ authorization: `bearer ${TEST_TOKEN}` }))).resolves.toMatchObject({ threads: [] });
  });
});

describe('namespaces are isolated', () => {
  it('threads: same group ids, and every call with the other tenant\'s thread ids', async () => {
    const ta = (await a.threads.createThread({ groupId: 'shared-group', topic: 'A' })).thread!;
    const tb = (await b.threads.createThread({ groupId: 'shared-group', topic: 'B' })).thread!;
    await a.threads.createMessage({ threadId: ta.id, id: 'same-msg', authorId: 'x', text: 'secret A' });
    await b.threads.createMessage({ threadId: tb.id, id: 'same-msg', authorId: 'x', text: 'B' });

    expect((await a.threads.listThreads({ groupId: 'shared-group' })).threads.map(stable)).toEqual([stable(ta)]);
    expect((await b.threads.listThreads({ groupId: 'shared-group' })).threads.map(stable)).toEqual([stable(tb)]);
    expect((await b.threads.recentMessages({ groupId: 'shared-group' })).messages.map((m) => m.text)).toEqual(['B']);
    expect((await b.threads.recentMessages({ threadIds: [ta.id] })).messages).toEqual([]);
    expect(await failure(b.threads.readThread({ id: ta.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(b.threads.updateThread({ id: ta.id, topic: 'hacked' }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(b.threads.listMessages({ threadId: ta.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(b.threads.createMessage({ threadId: ta.id, authorId: 'x', text: 'spam' }))).toMatchObject({ reason: 'NOT_FOUND' });
    await b.threads.deleteThread({ id: ta.id });

    expect(stable((await a.threads.readThread({ id: ta.id })).thread)).toEqual(stable(ta));
    expect((await a.threads.listMessages({ threadId: ta.id })).messages.map((m) => m.text)).toEqual(['secret A']);
  });

  it('streams: same group ids and the other tenant\'s conversation ids', async () => {
    const ca = (await a.streams.createConversation({ groupId: 'sg', topic: 'A' })).conversation!;
    await a.streams.createMessage({ conversationId: ca.id, authorId: 'x', text: 'secret' });
    expect((await b.streams.listConversations({ groupId: 'sg' })).conversations).toEqual([]);
    expect(await failure(b.streams.readConversation({ id: ca.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(b.streams.updateConversation({ id: ca.id, topic: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(b.streams.listMessages({ conversationId: ca.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect((await b.streams.recentMessages({ conversationIds: [ca.id] })).messages).toEqual([]);
    await b.streams.deleteConversation({ id: ca.id });
    expect((await a.streams.listMessages({ conversationId: ca.id })).messages).toHaveLength(1);
  });

  it('chats: the same user set and the same chat id are different chats per tenant', async () => {
    const ca = (await a.chats.createChat({ userIds: ['u1', 'u2'], id: 'chat-1' })).chat!;
    const cb = (await b.chats.createChat({ userIds: ['u1', 'u2'] })).chat!;
    expect(cb.id).not.toBe('chat-1');
    const cb2 = (await b.chats.createChat({ userIds: ['x1', 'x2'], id: 'chat-1' })).chat!;
    expect(cb2.userIds).toEqual(['x1', 'x2']);
    await a.chats.sendMessage({ chatId: 'chat-1', authorId: 'u1', text: 'for A only' });
    expect((await b.chats.listMessages({ chatId: 'chat-1' })).messages).toEqual([]);
    expect((await a.chats.listMessages({ chatId: ca.id })).messages.map((m) => m.text)).toEqual(['for A only']);
  });

  it('ids that spell out another namespace\'s keys stay in the caller\'s namespace', async () => {
    const ta = (await a.threads.createThread({ groupId: 'g', topic: 'A' })).thread!;
    const crafted = [`{default:t:${ta.id}}`, `default:t:${ta.id}`, `}{default:t:${ta.id}`, `../default/${ta.id}`, `pl1:{default:t:${ta.id}}:meta`, '*', '?', '[d]*'];
    for (const id of crafted) {
      expect(await failure(b.threads.readThread({ id }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect(await failure(b.threads.listMessages({ threadId: id }))).toMatchObject({ reason: 'NOT_FOUND' });
      await b.threads.deleteThread({ id });
      expect((await b.threads.listThreads({ groupId: id })).threads).toEqual([]);
      expect((await b.threads.recentMessages({ groupId: id })).messages).toEqual([]);
    }
    expect(stable((await a.threads.readThread({ id: ta.id })).thread)).toEqual(stable(ta));
  });

  it('crafted ids through every other method stay in the caller\'s namespace, very long ones too', async () => {
    const ta = (await a.threads.createThread({ groupId: 'g', topic: 'A' })).thread!;
    await a.threads.createMessage({ threadId: ta.id, authorId: 'u', text: 'A thread' });
    const va = (await a.streams.createConversation({ groupId: 'g', topic: 'A' })).conversation!;
    await a.streams.createMessage({ conversationId: va.id, authorId: 'u', text: 'A conversation' });
    const chat = (await a.chats.createChat({ userIds: ['a1', 'a2'] })).chat!;
    await a.chats.sendMessage({ chatId: chat.id, authorId: 'a1', text: 'A chat' });
    const crafted = (k: string, id: string) => [id, `{default:${k}:${id}}`, `default:${k}:${id}`, `}{default:${k}:${id}`, `pl1:{default:${k}:${id}}:meta`, `${id}${'x'.repeat(256 - id.length)}`];
    for (const id of crafted('t', ta.id)) {
      expect(await failure(b.threads.updateThread({ id, topic: 'B was here' }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect(await failure(b.threads.createMessage({ threadId: id, authorId: 'b', text: 'B was here' }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect((await b.threads.recentMessages({ threadIds: [id] })).messages).toEqual([]);
    }
    for (const id of crafted('v', va.id)) {
      expect(await failure(b.streams.readConversation({ id }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect(await failure(b.streams.updateConversation({ id, topic: 'B was here' }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect(await failure(b.streams.createMessage({ conversationId: id, authorId: 'b', text: 'B was here' }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect(await failure(b.streams.listMessages({ conversationId: id }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect((await b.streams.recentMessages({ conversationIds: [id] })).messages).toEqual([]);
      expect((await b.streams.listConversations({ groupId: id })).conversations).toEqual([]);
      await b.streams.deleteConversation({ id });
    }
    for (const id of crafted('c', chat.id)) {
      expect(await failure(b.chats.sendMessage({ chatId: id, authorId: 'b', text: 'B was here' }))).toMatchObject({ reason: 'NOT_FOUND' });
      expect(await failure(b.chats.listMessages({ chatId: id }))).toMatchObject({ reason: 'NOT_FOUND' });
    }
    expect(stable((await a.threads.readThread({ id: ta.id })).thread)).toEqual(stable(ta));
    expect((await a.threads.listMessages({ threadId: ta.id })).messages.map((m) => m.text)).toEqual(['A thread']);
    expect(stable((await a.streams.readConversation({ id: va.id })).conversation)).toEqual(stable(va));
    expect((await a.streams.listMessages({ conversationId: va.id })).messages.map((m) => m.text)).toEqual(['A conversation']);
    expect((await a.chats.listMessages({ chatId: chat.id })).messages.map((m) => m.text)).toEqual(['A chat']);
  });
});

describe('rate limits', () => {
  let one: TestService;
  let two: TestService;
  beforeAll(async () => {
    const policy = { ...NO_RATE_LIMITS, namespaceRps: 5, namespaceBurst: 5 };
    [one, two] = await Promise.all([startService(redis.url, defaultLimits, policy), startService(redis.url, defaultLimits, policy)]);
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
  });

  const retryDelayMs = (e: ServiceError) => richDetails(e.metadata).retryDelayMs!;

  it('a namespace bucket shared by two instances: the burst passes, then RESOURCE_EXHAUSTED with RetryInfo, then it recovers', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a full bucket
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? one : two).threads.listThreads({ groupId: 'rl' })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as ServiceError);
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(7); // 5 in the bucket, one more per 200 ms the 12 calls take
    expect(refused.length).toBeGreaterThanOrEqual(5);
    for (const e of refused) expect(await failure(Promise.reject(e))).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' });
    const delay = retryDelayMs(refused[0]);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(200);
    await new Promise((r) => setTimeout(r, delay + 50));
    await expect(one.threads.listThreads({ groupId: 'rl' })).resolves.toMatchObject({ threads: [] });
  });

  it('another namespace has its own bucket', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const other = clients(one.address, OTHER_TOKEN);
    for (let i = 0; i < 5; i++) await one.threads.listThreads({ groupId: 'rl' });
    await expect(other.threads.listThreads({ groupId: 'rl' })).resolves.toMatchObject({ threads: [] });
    other.close();
  });

  it('message writes have a bucket per container', async () => {
    // Container limits only, so the namespace bucket stays out of the way.
    const policy = { ...NO_RATE_LIMITS, containerRps: 2, containerBurst: 2 };
    const [one, two] = await Promise.all([startService(redis.url, defaultLimits, policy), startService(redis.url, defaultLimits, policy)]);
    const t1 = (await one.threads.createThread({ groupId: 'rl', topic: '1' })).thread!;
    const t2 = (await two.threads.createThread({ groupId: 'rl', topic: '2' })).thread!;
    await one.threads.createMessage({ threadId: t1.id, authorId: 'a', text: '1' });
    await two.threads.createMessage({ threadId: t1.id, authorId: 'a', text: '2' });
    expect(await failure(one.threads.createMessage({ threadId: t1.id, authorId: 'a', text: '3' }))).toMatchObject({ reason: 'RATE_LIMITED' });
    await expect(two.threads.createMessage({ threadId: t2.id, authorId: 'a', text: 'other thread' })).resolves.toBeDefined();
    expect((await one.threads.listMessages({ threadId: t1.id })).messages).toHaveLength(2);
    await one.stop();
    await two.stop();
  });
});
