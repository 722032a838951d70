/**
 * On one Redis the append script moves a thread in its group's activity order
 * itself when the store knows the group (README, "Inboxes and read state"):
 * the order is right from the first message, after a restart (the store knows
 * no group yet: the follow-up does it), and a wrong guess of the group writes
 * nothing to the wrong order.
 */
import { groupKeys, containerKeys } from '../../src/store/keys';
import { encodeNewMessage } from '../../src/store/record';
import { RedisStore } from '../../src/store/redis-store';
import { startRedis, type TestRedis } from '../helpers/redis';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const connect = () => RedisStore.connect({ url: redis.url, commandTimeoutMs: 5000 });
const micros = (sentAt: string) => sentAt.slice(0, -3);
const newMessage = (text: string) => ({ id: `m-${Math.random()}`, clientId: false, authorId: 'w', text, metadata: {} });

it('every message moves its thread in the group order to its sent_at, with the group known or not (a new store)', async () => {
  const first = await connect();
  const act = groupKeys('ns', 'thread', 'g1').activity;
  const client = redis.client();
  try {
    const t = await first.createContainer('ns', 'thread', { id: 't1', groupId: 'g1', topic: 'x', metadata: {} });
    const m1 = await first.appendMessage('ns', 'thread', t.id, newMessage('one'));
    expect(await client.zscore(act, 't1')).toBe(micros(m1.sentAt));
    await first.close();
    // A restarted service knows no group: its first append leaves the order to the follow-up.
    const second = await connect();
    try {
      const m2 = await second.appendMessage('ns', 'thread', t.id, newMessage('two'));
      expect(await client.zscore(act, 't1')).toBe(micros(m2.sentAt));
      const m3 = await second.appendMessage('ns', 'thread', t.id, newMessage('three'));
      expect(await client.zscore(act, 't1')).toBe(micros(m3.sentAt));
    } finally {
      await second.close();
    }
  } finally {
    client.disconnect();
  }
});

it('the script writes the order only when the guessed group is the container’s, and says so', async () => {
  const store = await connect();
  const client = redis.client();
  try {
    await store.createContainer('ns', 'thread', { id: 't2', groupId: 'real', topic: 'x', metadata: {} });
    const k = containerKeys('ns', 'thread', 't2');
    const wrong = groupKeys('ns', 'thread', 'wrong').activity;
    const record = encodeNewMessage({ authorId: 'w', text: 'x', metadata: {} });
    const guessWrong = await store.redis.appendMessage(k.meta, k.order, k.deleted, k.bodies, k.feed, k.reads, wrong, k.participants, k.meta, 'a1', record, '0', 100, 'w', '0', 'wrong', 't2');
    expect(guessWrong[0]).toBe('OK');
    expect(guessWrong[7]).toBe(0);
    expect(await client.exists(wrong)).toBe(0);
    const right = groupKeys('ns', 'thread', 'real').activity;
    const guessRight = await store.redis.appendMessage(k.meta, k.order, k.deleted, k.bodies, k.feed, k.reads, right, k.participants, k.meta, 'a2', record, '0', 100, 'w', '0', 'real', 't2');
    expect(guessRight[7]).toBe(1);
    expect(await client.zscore(right, 't2')).toBe(micros(JSON.parse(guessRight[3]).s as string));
  } finally {
    client.disconnect();
    await store.close();
  }
});
