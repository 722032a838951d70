/**
 * The Node client (client/) against the real service process: the service is
 * SIGKILLed and started again on the same port and Redis while a writer keeps
 * sending with the client and a subscriber reads the live feed with it. What
 * a caller must see: every message the writer sent delivered to the
 * subscriber exactly once, in order, with no gap; and a write whose first
 * attempt was applied but whose answer was lost in the crash, retried by the
 * client with the id it filled in, stored once.
 */
import { createClient, type ParleyClient } from '../../client/src';
import { restartableService, type RestartableService } from '../helpers/restartable';
import { startRedis, type TestRedis } from '../helpers/redis';
import { TEST_TOKEN } from '../helpers/service';
import { containerKeys } from '../../src/store/keys';

let redis: TestRedis | undefined;
let svc: RestartableService | undefined;
let client: ParleyClient | undefined;
/** Every retry the client made, as its onRetry saw them. */
const retries: { method: string; id: string; attempt: number; waitMs: number }[] = [];

beforeAll(async () => {
  redis = await startRedis();
  svc = await restartableService(redis);
  // Generous deadlines: a restart on a machine busy with other tests can take seconds.
  client = createClient({ target: svc.target, token: TEST_TOKEN, namespace: 'default', deadlineMs: 30_000,
    onRetry: ({ method, error, attempt, waitMs }) => retries.push({ method, id: error.id, attempt, waitMs }),
  });
});

afterAll(async () => {
  client?.close();
  await svc?.stopAll();
  if (redis) {
    // A redis-server left stopped by a failed test would not die of SIGKILL before SIGCONT? It does; SIGCONT anyway.
    try {
      process.kill(redis.child.pid!, 'SIGCONT');
    } catch {
      // already gone
    }
    await redis.stop();
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects with what `what()` says if `p` has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(what())), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

it('a SIGKILL and restart of the service mid-subscription, with a writer sending through it: every message delivered once, in order', async () => {
  const c = client!;
  const { thread } = await c.threads.createThread({ groupId: 'client', topic: 'restart' });
  const threadId = thread!.id;
  const TOTAL = 80;
  const KILL_AFTER = 30;

  // The subscriber: reads until it has TOTAL created events (or fails).
  const sub = await c.threads.subscribe({ threadIds: [threadId] });
  const received: { id: string; text: string; seq: bigint; cursor: string }[] = [];
  const types: string[] = [];
  let lives = 0;
  const reading = (async () => {
    for await (const ev of sub) {
      types.push(ev.type);
      if (ev.type === 'live') lives++;
      if (ev.type === 'created') received.push({ id: ev.message!.id, text: ev.message!.text, seq: ev.message!.seq, cursor: ev.cursor });
      if (received.length >= TOTAL) break;
    }
  })();

  // The writer: one message after another through the client (no ids given: the client fills them in).
  const sent: { id: string; text: string }[] = [];
  let writerError: unknown;
  const writing = (async () => {
    for (let i = 0; i < TOTAL; i++) {
      const { message } = await c.threads.createMessage({ threadId, authorId: 'writer', text: `m${i}` });
      sent.push({ id: message!.id, text: message!.text });
      await sleep(10);
    }
  })().catch((e) => (writerError = e));

  const retriesBefore = retries.length;
  // Mid-way: crash the service, leave it down a moment, start it again on the same port and Redis.
  while (sent.length < KILL_AFTER && !writerError) await sleep(5);
  expect(writerError).toBeUndefined();
  await svc!.kill();
  await sleep(700);
  await svc!.start();

  await writing;
  expect(writerError).toBeUndefined();
  await within(reading, 30_000, () => `the subscriber got ${received.length} of ${TOTAL}: ${types.join(',')}`);

  // Every message the writer sent, once each, in the order it was sent; seqs 1..TOTAL without a hole.
  expect(sent).toHaveLength(TOTAL);
  expect(received.map((m) => m.text)).toEqual(sent.map((m) => m.text));
  expect(received.map((m) => m.id)).toEqual(sent.map((m) => m.id));
  expect(received.map((m) => Number(m.seq))).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  expect(new Set(received.map((m) => m.cursor)).size).toBe(TOTAL);
  // It did reconnect (the crash was seen), and the stream is cancelled now the loop was left. (The
  // resumed stream's own `live` may come after the last message the loop waits for, so it is not counted.)
  expect(sub.reconnects).toBeGreaterThanOrEqual(1);
  expect(lives).toBeGreaterThanOrEqual(1);
  expect(types.filter((t) => t === 'resync_required')).toEqual([]);
  // The writer's message that met the outage was retried (UNAVAILABLE), not given up.
  const writeRetries = retries.slice(retriesBefore).filter((r) => r.method === '/threads.Threads/CreateMessage');
  expect(writeRetries.length).toBeGreaterThanOrEqual(1);
  expect(new Set(writeRetries.map((r) => r.id))).toEqual(new Set(['UNAVAILABLE']));
  // The thread holds exactly what was sent: no write stored twice by a retry.
  const list = await c.threads.listMessages({ threadId, limit: 100n, order: 'asc' });
  expect(list.messages.map((m) => m.id)).toEqual(sent.map((m) => m.id));
});

it('a write whose answer is lost in a crash, retried by the client across the restart, is stored once', async () => {
  const c = client!;
  const { thread } = await c.threads.createThread({ groupId: 'client', topic: 'retried write' });
  const threadId = thread!.id;
  // One message first, so the service has its scripts loaded in Redis (a write is then one command).
  await c.threads.createMessage({ threadId, authorId: 'ana', text: 'before' });
  const raw = redis!.client();
  const keys = containerKeys('default', 'thread', threadId);
  expect(await raw.zcard(keys.order)).toBe(1);

  // Redis paused: the service takes the write and sends it to Redis, which does not answer yet.
  process.kill(redis!.child.pid!, 'SIGSTOP');
  let stopped = true;
  const retriesBefore = retries.length;
  try {
    const write = c.threads.createMessage({ threadId, authorId: 'ana', text: 'once' });
    const outcome = write.then(
      (r) => ({ ok: r }),
      (e) => ({ err: e }),
    );
    await sleep(500);
    // The crash: the service dies with the write sent but not answered; then Redis carries on and applies it.
    await svc!.kill();
    process.kill(redis!.child.pid!, 'SIGCONT');
    stopped = false;
    // The write reached Redis and was applied by the first attempt, before any retry could reach a service.
    const deadline = Date.now() + 5000;
    while ((await raw.zcard(keys.order)) < 2 && Date.now() < deadline) await sleep(20);
    expect(await raw.zcard(keys.order)).toBe(2);
    const storedIds = await raw.zrange(keys.order, 0, -1);

    await sleep(300);
    await svc!.start();
    const result = await outcome;
    expect(result).toHaveProperty('ok');
    // It was answered by a retry: the first attempt failed with the crash.
    const writeRetries = retries.slice(retriesBefore).filter((r) => r.method === '/threads.Threads/CreateMessage');
    expect(writeRetries.length).toBeGreaterThanOrEqual(1);
    expect(writeRetries[0]).toMatchObject({ id: 'UNAVAILABLE', attempt: 1 });
    const message = (result as { ok: Awaited<typeof write> }).ok.message!;
    // The answer is the message the first attempt stored: same id (the client's), same seq.
    expect(message.text).toBe('once');
    expect(message.seq).toBe(2n);
    expect(storedIds[1]).toBe(message.id);
    const list = await c.threads.listMessages({ threadId, order: 'asc' });
    expect(list.messages.map((m) => m.text)).toEqual(['before', 'once']);
    expect(await raw.zcard(keys.order)).toBe(2);
  } finally {
    if (stopped) process.kill(redis!.child.pid!, 'SIGCONT');
  }
});
