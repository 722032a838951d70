/**
 * The live feed's promise as a property: under random interleavings of
 * writes to several threads (concurrent with everything else), subscribers
 * dropping their connection at random moments, and resumes from the last
 * cursor each one saw, every subscriber ends with every message of every
 * thread exactly once, in seq order per thread.
 */
import fc from 'fast-check';
import { subscribe, type Feed } from '../helpers/feed';
import { TEST_TOKEN } from '../helpers/service';
import { useStack } from '../helpers/stack';

const s = useStack();
const THREADS = 3;

type Action = { kind: 'write'; thread: number; count: number } | { kind: 'drop'; who: number } | { kind: 'pause'; ms: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), thread: fc.nat(THREADS - 1), count: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), who: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 20 }) }) },
);

/** A subscriber that keeps the last cursor per thread and resumes with them. */
class Resuming {
  readonly seen = new Map<string, string[]>();
  private readonly cursors = new Map<string, string>();
  private feed?: Feed;
  private taken = 0;

  constructor(private readonly threads: string[]) {}

  /** Starts from each thread's feed_cursor (a list call's): nothing written after it can be missed. */
  async start(): Promise<void> {
    for (const threadId of this.threads) this.cursors.set(threadId, (await s.svc.threads.listMessages({ threadId })).feedCursor);
    await this.connect();
  }

  async connect(): Promise<void> {
    this.feed = subscribe(s.svc.address, 'threads', { threadIds: this.threads, after: [...this.cursors.values()] }, TEST_TOKEN);
    this.taken = 0;
    await this.feed.live();
  }

  /** Takes what the current stream delivered (events keep arriving until drop). */
  private take(): void {
    const events = this.feed!.events.slice(this.taken);
    this.taken += events.length;
    for (const e of events) {
      if (e.type !== 'created') continue;
      this.seen.set(e.containerId, [...(this.seen.get(e.containerId) ?? []), e.message!.text]);
      this.cursors.set(e.containerId, e.cursor);
    }
  }

  async drop(): Promise<void> {
    this.take();
    this.feed!.cancel();
    await this.connect();
  }

  async settle(expected: number): Promise<void> {
    await this.feed!.until(() => [...this.seen.values()].flat().length + this.feed!.events.slice(this.taken).filter((e) => e.type === 'created').length >= expected, `${expected} messages`);
    this.take();
    this.feed!.cancel();
  }
}

it('no gap and no duplicate across random writes, disconnects and resumes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 20 }), async (actions) => {
      const threads: string[] = [];
      for (let i = 0; i < THREADS; i++) threads.push((await s.svc.threads.createThread({ groupId: 'p', topic: `t${i}` })).thread!.id);
      const subs = [new Resuming(threads), new Resuming(threads)];
      await Promise.all(subs.map((x) => x.start()));
      // Per thread, each message with the seq its reply names: concurrent writes to one thread may be
      // answered in another order than they were applied, and the feed's order is the seq order.
      const written = threads.map(() => [] as { text: string; seq: number }[]);
      const writes: Promise<unknown>[] = [];
      let n = 0;
      for (const a of actions) {
        if (a.kind === 'write') {
          // Not awaited: writes run while later actions drop and resume subscribers.
          const texts = Array.from({ length: a.count }, () => `m${n++}`);
          writes.push(
            (async () => {
              for (const text of texts) {
                const r = await s.svc.threads.createMessage({ threadId: threads[a.thread], authorId: 'a', text });
                written[a.thread].push({ text, seq: Number(r.message!.seq) });
              }
            })(),
          );
        } else if (a.kind === 'drop') {
          await subs[a.who].drop();
        } else {
          await new Promise((r) => setTimeout(r, a.ms));
        }
      }
      await Promise.all(writes);
      const total = written.flat().length;
      const inSeqOrder = written.map((w) => [...w].sort((a, b) => a.seq - b.seq).map((m) => m.text));
      for (const sub of subs) {
        await sub.settle(total);
        threads.forEach((t, i) => expect(sub.seen.get(t) ?? []).toEqual(inSeqOrder[i]));
      }
    }),
    { numRuns: 50 },
  );
});
