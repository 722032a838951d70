/**
 * A namespace's large-read slot (src/core/read-slots.ts), on real timers: the
 * pause after a read delays the next read in line, never the reply of the read
 * that finished, and only while another namespace calls.
 */
import { ACTIVE_WINDOW_MS, ReadSlots } from '../../src/core/read-slots';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two reads of `ns` at once, each holding the slot `holdMs`: when each ended and when the second started. */
async function two(slots: ReadSlots, ns: string, holdMs: number) {
  const t0 = performance.now();
  let secondStarted = 0;
  const first = slots.run(ns, () => sleep(holdMs)).then(() => performance.now() - t0);
  const second = slots
    .run(ns, async () => {
      secondStarted = performance.now() - t0;
      await sleep(holdMs);
    })
    .then(() => performance.now() - t0);
  const [a, b] = await Promise.all([first, second]);
  return { firstDone: a, secondStarted, secondDone: b };
}

it('rests a slot (1 - share) / share of the read that held it while another namespace calls, after answering that read', async () => {
  const slots = new ReadSlots({ inFlight: 1, queued: 4, share: 0.25 });
  slots.called('other');
  const r = await two(slots, 'heavy', 100);
  // The first read is answered when it ends, not after the pause.
  expect(r.firstDone).toBeLessThan(100 + 150);
  // The next starts 3 × 100 ms after it: the slot held 100, rests 300.
  expect(r.secondStarted).toBeGreaterThanOrEqual(100 + 300 - 5);
});

it('does not pace when no other namespace called within the window, nor with share 1', async () => {
  const slots = new ReadSlots({ inFlight: 1, queued: 4, share: 0.25 });
  slots.called('heavy');
  const alone = await two(slots, 'heavy', 100);
  expect(alone.secondStarted).toBeLessThan(100 + 150);

  slots.called('other');
  await sleep(ACTIVE_WINDOW_MS + 50);
  const quiet = await two(slots, 'heavy', 100);
  expect(quiet.secondStarted).toBeLessThan(100 + 150);

  const never = new ReadSlots({ inFlight: 1, queued: 4, share: 1 });
  never.called('other');
  const full = await two(never, 'heavy', 100);
  expect(full.secondStarted).toBeLessThan(100 + 150);
});

it('a paced slot still refuses past the queue, and frees its namespace once the last pause ends', async () => {
  const slots = new ReadSlots({ inFlight: 1, queued: 0, share: 0.5 });
  slots.called('other');
  await slots.run('heavy', () => sleep(30));
  // Resting: the slot is not free yet, and nothing may queue.
  await expect(slots.run('heavy', async () => 'x')).rejects.toMatchObject({ id: 'RATE_LIMITED' });
  await sleep(60);
  await expect(slots.run('heavy', async () => 'x')).resolves.toBe('x');
});
