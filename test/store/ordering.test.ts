import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, type TestService } from '../helpers/service';

let redis: TestRedis;
let one: TestService;
let two: TestService;

beforeAll(async () => {
  redis = await startRedis();
  [one, two] = await Promise.all([startService(redis.url), startService(redis.url)]);
});
afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await redis?.stop();
});

it('two service instances writing one thread at once: seq 1..n and sent_at strictly increasing in that order', async () => {
  const { thread } = await one.threads.createThread({ groupId: 'two', topic: 'race' });
  const write = (svc: TestService, who: string, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => svc.threads.createMessage({ threadId: thread!.id, authorId: who, text: `${who}${i}` })));
  const [a, b] = await Promise.all([write(one, 'a', 300), write(two, 'b', 300)]);
  const acked = [...a, ...b].map((r) => r.message!);

  const stored = [];
  for (let offset = 0; ; offset += 200) {
    const page = (await two.threads.listMessages({ threadId: thread!.id, order: 'asc', limit: '200', offset: String(offset) })).messages;
    if (page.length === 0) break;
    stored.push(...page);
  }
  expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => String(i + 1)));
  for (let i = 1; i < stored.length; i++) expect(stored[i].sentAt > stored[i - 1].sentAt).toBe(true);
  // Many of them share a millisecond, which is what makes the clock alone not enough.
  const ms = new Set(stored.map((m) => m.sentAt.slice(0, 23)));
  expect(ms.size).toBeLessThan(stored.length);
  // Every acknowledged message is stored exactly as it was acknowledged.
  const byId = new Map(stored.map((m) => [m.id, m]));
  expect(byId.size).toBe(600);
  for (const m of acked) expect(byId.get(m.id)).toEqual(m);
});

it('DeleteThread of a large thread removes every key at once and returns', async () => {
  const { thread } = await one.threads.createThread({ groupId: 'big', topic: 'large' });
  // Fill 200,000 messages straight through Redis (the API would take longer than a unit test should).
  const raw = redis.client();
  const tag = (await raw.keys(`*${thread!.id}*meta`))[0].replace(/:meta$/, '');
  const N = 200_000;
  for (let start = 0; start < N; start += 10_000) {
    const z: (string | number)[] = [];
    const h: string[] = [];
    for (let i = start; i < start + 10_000; i++) {
      z.push(i + 1, `m${i}`);
      h.push(`m${i}`, JSON.stringify({ s: String(1790000000000000000 + i), a: 'a', t: `text ${i}` }));
    }
    await raw.zadd(`${tag}:seq`, ...z);
    await raw.hset(`${tag}:msg`, ...h);
  }
  await raw.hset(`${tag}:meta`, 's', N, 'n', N, 'l', String(1790000000000000000 + N));
  expect((await one.threads.listMessages({ threadId: thread!.id, limit: '1' })).messages[0].text).toBe(`text ${N - 1}`);

  expect(await one.threads.deleteThread({ id: thread!.id })).toEqual({});
  expect(await raw.exists(`${tag}:meta`, `${tag}:seq`, `${tag}:msg`)).toBe(0);
  expect((await one.threads.listThreads({ groupId: 'big' })).threads).toEqual([]);
  // The group's last container gone, nothing of the group is left either.
  expect(await raw.keys(`*tg:big}*`)).toEqual([]);
});
