/**
 * The live feed across service processes and through failures, with the
 * service started as `make start` starts it (node dist/src/main.js):
 *
 * - two processes on one Redis: subscribed on one, written on the other and
 *   on both at once, every event arrives once, in seq order;
 * - Redis SIGKILLed mid-subscription and restarted (its AOF replayed): the
 *   stream ends with UNAVAILABLE or carries on, and a resume from the last
 *   cursor, repeated until it holds, delivers every acknowledged message
 *   once, in order;
 * - SIGTERM ends open streams at once with UNAVAILABLE (they are not waited
 *   for like unary calls), and the process exits 0.
 */
import { status } from '@grpc/grpc-js';
import { clients, type Clients } from '../helpers/grpc';
import { subscribe, type Feed, type FeedEvent } from '../helpers/feed';
import { startService as startProcess, type ServiceProcess } from '../helpers/process';
import { startRedis, type TestRedis } from '../helpers/redis';
import { TEST_TOKEN } from '../helpers/service';

const ENV = { API_KEYS: `default:${TEST_TOKEN}`, GRPC_PORT: '0', REDIS_COMMAND_TIMEOUT_MS: '1000' };
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function service(redis: TestRedis, env: Record<string, string> = {}): Promise<{ p: ServiceProcess; c: Clients; address: string }> {
  const p = await startProcess({ ...ENV, REDIS_URL: redis.url, ...env });
  const address = `127.0.0.1:${p.port}`;
  const c = clients(address, TEST_TOKEN, { ownConnection: true });
  cleanups.push(async () => {
    c.close();
    if (p.child.exitCode === null && p.child.signalCode === null) await p.stop();
  });
  return { p, c, address };
}

function track(f: Feed): Feed {
  cleanups.push(() => f.cancel());
  return f;
}

/** Writes with client ids, retrying each until acknowledged (as a careful client does across a failure). */
async function write(c: Clients, threadId: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.threads.createMessage({ threadId, id, authorId: 'w', text: id });
        break;
      } catch (e) {
        if (attempt > 400) throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }
}

const created = (events: FeedEvent[]) => events.filter((e) => e.type === 'created');

it('subscribed on one process, written on the other and on both: every event once, in seq order', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const [a, b] = [await service(redis), await service(redis)];
  const threadId = (await a.c.threads.createThread({ groupId: 'g', topic: 't' })).thread!.id;
  const f = track(subscribe(a.address, 'threads', { threadIds: [threadId] }, TEST_TOKEN));
  await f.live();
  await write(b.c, threadId, ['b0', 'b1', 'b2']);
  expect((await f.live(3)).map((e) => e.message!.text)).toEqual(['b0', 'b1', 'b2']);
  await Promise.all([
    write(a.c, threadId, Array.from({ length: 50 }, (_, i) => `a-${i}`)),
    write(b.c, threadId, Array.from({ length: 50 }, (_, i) => `b-${i}`)),
  ]);
  const got = await f.live(103);
  expect(got.map((e) => Number(e.message!.seq))).toEqual(Array.from({ length: 103 }, (_, i) => i + 1));
  // Each writer's messages in its own order.
  for (const w of ['a-', 'b-']) {
    expect(got.map((e) => e.message!.text).filter((t) => t.startsWith(w))).toEqual(Array.from({ length: 50 }, (_, i) => `${w}${i}`));
  }
});

it('Redis SIGKILLed mid-subscription: resuming from the last cursor delivers every acknowledged message once, in order', async () => {
  const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  cleanups.push(() => redis.stop());
  const svc = await service(redis);
  const threadId = (await svc.c.threads.createThread({ groupId: 'g', topic: 't' })).thread!.id;
  const ids = Array.from({ length: 300 }, (_, i) => `m${i}`);

  // A subscriber that resumes from its last cursor whenever its stream ends.
  const seen: FeedEvent[] = [];
  const endings: number[] = [];
  const reader = (async () => {
    let cursor = (await svc.c.threads.listMessages({ threadId })).feedCursor;
    for (;;) {
      const f = track(subscribe(svc.address, 'threads', { threadIds: [threadId], after: [cursor] }, TEST_TOKEN));
      // Until this stream ends, or everything written has arrived.
      await f.until((x) => x.ended || seen.length + created(x.events).length >= ids.length, 'an end or every message', 30_000);
      for (const e of created(f.events)) seen.push(e);
      const last = created(f.events).pop();
      if (last) cursor = last.cursor;
      if (f.error) endings.push(f.error.code);
      f.cancel();
      if (seen.length >= ids.length) return;
      if (f.error) await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const writing = write(svc.c, threadId, ids);
  await new Promise((r) => setTimeout(r, 150));
  await redis.kill();
  await new Promise((r) => setTimeout(r, 300));
  await redis.restart();
  await writing;
  await reader;

  expect(seen.map((e) => e.message!.text)).toEqual(ids);
  expect(seen.map((e) => Number(e.message!.seq))).toEqual(ids.map((_, i) => i + 1));
  // The kill ended the stream (the instance's wake-up connection dropped), with UNAVAILABLE: resumable.
  expect(endings.length).toBeGreaterThan(0);
  expect(endings.every((code) => code === status.UNAVAILABLE)).toBe(true);
});

it('SIGTERM ends open streams at once with UNAVAILABLE, and the process exits 0', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const svc = await service(redis, { SHUTDOWN_TIMEOUT_MS: '20000' });
  const threadId = (await svc.c.threads.createThread({ groupId: 'g', topic: 't' })).thread!.id;
  const feeds = Array.from({ length: 3 }, () => track(subscribe(svc.address, 'threads', { threadIds: [threadId] }, TEST_TOKEN)));
  await Promise.all(feeds.map((f) => f.live()));
  const t0 = Date.now();
  const exit = svc.p.stop();
  const errors = await Promise.all(feeds.map((f) => f.failure(10_000)));
  expect(errors.map((e) => e.code)).toEqual([status.UNAVAILABLE, status.UNAVAILABLE, status.UNAVAILABLE]);
  expect(await exit).toBe(0);
  // Well under SHUTDOWN_TIMEOUT_MS: the streams were ended, not waited for.
  expect(Date.now() - t0).toBeLessThan(10_000);
});

