/**
 * Moves containers forward in activity orders (zsets scored by Unix µs, ZADD GT), one command
 * per order per event-loop turn instead of one per message.
 *
 * Every message in a thread or conversation moves its container in its group's activity order
 * (ListThreads `order_by: "last_message_at"`), a write in the group's slot. Under load the
 * messages of one turn mostly land in few groups (a busy thread, a busy group), so the writes
 * of a turn are gathered and each order gets one ZADD GT carrying every container's latest
 * score. Each caller still awaits the write that carries its own score, so a call that returned
 * is in the order (read-your-writes holds), and a failed write fails the calls it carried.
 */
export type ZaddGt = (key: string, scoresAndMembers: (string | number)[]) => Promise<unknown>;

interface Pending {
  /** container id -> highest score of the turn */
  scores: Map<string, number>;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

export class ActivityBatch {
  private pending = new Map<string, Pending>();

  constructor(private readonly zaddGt: ZaddGt) {}

  /** Resolves once a ZADD GT that carries `score` (or a higher one) for `member` has been applied. */
  touch(key: string, member: string, score: number): Promise<void> {
    if (this.pending.size === 0) {
      // setImmediate: after the poll phase, so every reply Redis sent in this turn has been
      // handled and its follow-up gathered.
      setImmediate(() => this.flush());
    }
    let order = this.pending.get(key);
    if (!order) this.pending.set(key, (order = { scores: new Map(), waiters: [] }));
    const had = order.scores.get(member);
    if (had === undefined || score > had) order.scores.set(member, score);
    const waiters = order.waiters;
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  }

  private flush(): void {
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, { scores, waiters }] of pending) {
      const args: (string | number)[] = [];
      for (const [member, score] of scores) args.push(score, member);
      this.zaddGt(key, args).then(
        () => waiters.forEach((w) => w.resolve()),
        (e: unknown) => waiters.forEach((w) => w.reject(e)),
      );
    }
  }
}
