/**
 * The gathered activity writes (src/store/activity-batch.ts) against a real
 * Redis: the touches of one turn become one ZADD GT per order carrying each
 * member's highest score, a touch resolves only once its write is applied,
 * and a failed write fails the touches of its own order and no others.
 */
import type { Redis } from 'ioredis';
import { ActivityBatch } from '../../src/store/activity-batch';
import { startRedis, type TestRedis } from '../helpers/redis';

let redis: TestRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = redis.client();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** A batch over the real client that also records every write it sends. */
function recorded(): { batch: ActivityBatch; writes: [string, (string | number)[]][] } {
  const writes: [string, (string | number)[]][] = [];
  const batch = new ActivityBatch((key, args) => {
    writes.push([key, args]);
    return client.zadd(key, 'GT', ...args);
  });
  return { batch, writes };
}

it('one turn of touches is one ZADD GT per order with each member at its highest score; every touch resolves with it applied', async () => {
  const { batch, writes } = recorded();
  await client.zadd('act:a', 50, 'x');
  await Promise.all([
    batch.touch('act:a', 'x', 10).then(async () => expect(await client.zscore('act:a', 'x')).toBe('50')),
    batch.touch('act:a', 'y', 20),
    batch.touch('act:a', 'y', 30).then(async () => expect(await client.zscore('act:a', 'y')).toBe('30')),
    batch.touch('act:a', 'y', 25),
    batch.touch('act:b', 'x', 7),
  ]);
  expect(writes.map(([key]) => key).sort()).toEqual(['act:a', 'act:b']);
  expect(writes.find(([key]) => key === 'act:a')![1]).toEqual([10, 'x', 30, 'y']);
  // GT: a lower score never moves a member back.
  expect(await client.zrange('act:a', 0, -1, 'WITHSCORES')).toEqual(['y', '30', 'x', '50']);
  expect(await client.zscore('act:b', 'x')).toBe('7');
  // The next turn is a write of its own.
  await batch.touch('act:a', 'x', 60);
  expect(writes).toHaveLength(3);
  expect(await client.zscore('act:a', 'x')).toBe('60');
});

it('a failed write rejects the touches of its order only', async () => {
  const { batch } = recorded();
  await client.set('act:wrong-type', 'a string, not a zset');
  const results = await Promise.allSettled([batch.touch('act:wrong-type', 'x', 1), batch.touch('act:wrong-type', 'y', 2), batch.touch('act:fine', 'x', 3)]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
  expect(await client.zscore('act:fine', 'x')).toBe('3');
});
