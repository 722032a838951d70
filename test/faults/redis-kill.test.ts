/**
 * Redis is SIGKILLed during a write load and comes back: every message
 * acknowledged before (and after) the kill is present, in acknowledgement
 * order, with no duplicate. Writers retry with the same client id on
 * UNAVAILABLE, as a careful client would.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { clients, type Clients } from '../helpers/grpc';
import { startService as startProcess } from '../helpers/process';
import { startRedis } from '../helpers/redis';
import { TEST_TOKEN } from '../helpers/service';

const WRITERS = 8;
const PER_WRITER = 150;

interface LoadResult {
  acked: Map<string, string>; // id -> seq
  ackOrder: string[][]; // per writer, ids in acknowledgement order
  codes: Set<number>;
}

/** Writers send messages with client ids; a failed call is retried with the same id until it is acknowledged. */
async function writeLoad(c: Clients, threadId: string, duringLoad: (acked: number) => Promise<void> | void): Promise<LoadResult> {
  const result: LoadResult = { acked: new Map(), ackOrder: [], codes: new Set() };
  let total = 0;
  let fired = false;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const order: string[] = [];
      result.ackOrder.push(order);
      for (let i = 0; i < PER_WRITER; i++) {
        const id = `w${w}-${i}`;
        for (let attempt = 0; ; attempt++) {
          try {
            const { message } = await c.threads.createMessage({ threadId, id, authorId: `w${w}`, text: `message ${i} of ${w}` });
            result.acked.set(id, message!.seq);
            order.push(id);
            break;
          } catch (e) {
            result.codes.add((e as ServiceError).code);
            if (attempt > 400) throw e;
            await new Promise((r) => setTimeout(r, 25));
          }
        }
        if (++total === (WRITERS * PER_WRITER) / 3 && !fired) {
          fired = true;
          await duringLoad(total);
        }
      }
    }),
  );
  return result;
}

async function verify(c: Clients, threadId: string, r: LoadResult) {
  const stored = [];
  for (let offset = 0; ; offset += 1000) {
    const page = (await c.threads.listMessages({ threadId, order: 'asc', limit: '1000', offset: String(offset) })).messages;
    if (!page.length) break;
    stored.push(...page);
  }
  // No duplicate, nothing missing, seq dense and in order.
  expect(stored).toHaveLength(WRITERS * PER_WRITER);
  expect(new Set(stored.map((m) => m.id)).size).toBe(stored.length);
  expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => String(i + 1)));
  const seqOf = new Map(stored.map((m) => [m.id, m.seq]));
  for (const [id, seq] of r.acked) expect(seqOf.get(id)).toBe(seq);
  // Each writer's messages are stored in the order they were acknowledged.
  for (const order of r.ackOrder) {
    const seqs = order.map((id) => Number(seqOf.get(id)));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  }
  // While Redis was down, callers saw UNAVAILABLE and nothing worse.
  for (const code of r.codes) expect(code).toBe(status.UNAVAILABLE);
}

it('embedded Redis: the service notices its child died, answers UNAVAILABLE, restarts it from DATA_DIR and recovers', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-fault-'));
  const svc = await startProcess({ DATA_DIR: dataDir, GRPC_PORT: '0', API_KEYS: `default:${TEST_TOKEN}` });
  const c = clients(`127.0.0.1:${svc.port}`, TEST_TOKEN);
  const { thread } = await c.threads.createThread({ groupId: 'faults', topic: 'embedded' });
  const redisPid = () => Number(readFileSync(join(dataDir, 'redis.pid'), 'utf8'));
  const firstPid = redisPid();

  const r = await writeLoad(c, thread!.id, () => {
    process.kill(firstPid, 'SIGKILL');
  });
  expect(r.codes.has(status.UNAVAILABLE)).toBe(true);
  await verify(c, thread!.id, r);
  expect(redisPid()).not.toBe(firstPid);
  expect(svc.logs.some((l) => l.msg === 'embedded redis-server restarted')).toBe(true);

  c.close();
  expect(await svc.stop()).toBe(0);
  rmSync(dataDir, { recursive: true, force: true });
});

it('external REDIS_URL: Redis killed and brought back on the same port, the service reconnects by itself', async () => {
  const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'everysec']);
  const svc = await startProcess({ REDIS_URL: redis.url, GRPC_PORT: '0', API_KEYS: `default:${TEST_TOKEN}`, DATA_DIR: redis.dir });
  const c = clients(`127.0.0.1:${svc.port}`, TEST_TOKEN);
  const { thread } = await c.threads.createThread({ groupId: 'faults', topic: 'external' });

  const r = await writeLoad(c, thread!.id, async () => {
    await redis.kill();
    setTimeout(() => void redis.restart(), 300);
  });
  expect(r.codes.has(status.UNAVAILABLE)).toBe(true);
  await verify(c, thread!.id, r);

  c.close();
  expect(await svc.stop()).toBe(0);
  await redis.stop();
});
