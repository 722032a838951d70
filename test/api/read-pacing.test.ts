/**
 * Large reads are paced while other namespaces call (NAMESPACE_READS_SHARE,
 * src/core/read-slots.ts): after a large read that held its namespace's slot
 * T ms, the next one in line waits T × (1 − share) / share ms more, so a
 * closed loop of large reads leaves the event loop to the others. With no
 * other namespace calling, nothing is paced. Observed as a caller does: four
 * large pages asked for at once, the time between their replies. That the
 * pause never delays the reply of the read that finished is checked on the
 * slots themselves (test/unit/read-slots.test.ts).
 */
import { defaultLimits } from '../../src/core/limits';
import { ACTIVE_WINDOW_MS } from '../../src/core/read-slots';
import { clients } from '../helpers/grpc';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, startService, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
let threadId: string;

beforeAll(async () => {
  redis = await startRedis();
  // share 0.01: a slot rests 99 × as long as the read that held it, so the rest dwarfs whatever else
  // a busy machine adds between two replies (a read takes milliseconds; its rest, a second or so).
  svc = await startService(redis.url, defaultLimits, undefined, undefined, { reads: { inFlight: 1, queued: 8, share: 0.01 } });
  const { thread } = await svc.threads.createThread({ groupId: 'pacing', topic: 'big' });
  threadId = thread!.id;
  const long = 'p'.repeat(16 * 1024);
  // 100 × 16 KiB = 1.6 MiB: a page of them takes the namespace's slot.
  for (let i = 0; i < 100; i += 25) {
    await Promise.all(Array.from({ length: 25 }, () => svc.threads.createMessage({ threadId, authorId: 'a', text: long })));
  }
});
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

/** Four large pages asked for at once: the median gap between their replies. */
async function pages(): Promise<number> {
  const t0 = performance.now();
  const done = await Promise.all(
    Array.from({ length: 4 }, () =>
      svc.threads.listMessages({ threadId, limit: '100' }).then((r) => {
        expect(r.messages).toHaveLength(100);
        return performance.now() - t0;
      }),
    ),
  );
  done.sort((a, b) => a - b);
  const gaps = done.slice(1).map((t, i) => t - done[i]).sort((a, b) => a - b);
  return gaps[1];
}

it('paces a namespace\'s large reads only while another namespace calls', async () => {
  // Warm: the first pages pay for compiling the paths.
  await pages();
  // Nobody else has called: back to back, each gap about one read.
  const alone = await pages();

  // The other namespace calls (any call counts) and keeps calling during the reads.
  const other = clients(svc.address, OTHER_TOKEN);
  try {
    let calling = true;
    const others = (async () => {
      while (calling) {
        await other.threads.listThreads({ groupId: 'elsewhere' });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const paced = await pages();
    calling = false;
    await others;

    // Each slot rests 99 reads long before the next read starts: gaps of about 100 reads against 1.
    expect(paced).toBeGreaterThan(3 * alone);

    // Once the other namespace has been quiet for ACTIVE_WINDOW_MS, nothing is paced again.
    await new Promise((r) => setTimeout(r, ACTIVE_WINDOW_MS + 200));
    const after = await pages();
    expect(after).toBeLessThan(paced / 3);
  } finally {
    other.close();
  }
});
