/**
 * Reads that can be expensive (message lists, RecentMessages and container
 * lists that may answer more than 1 MiB under the size limits) take a slot of
 * their namespace: at most `inFlight` run at once per
 * namespace on this instance, `queued` more wait their turn in order, and
 * past that the call is RATE_LIMITED with a short retry delay. So one tenant's
 * flood of large reads queues behind itself, and Redis and this process keep
 * serving the other tenants (README, "Fairness").
 *
 * A slot alone does not stop a closed loop of large reads from keeping this
 * process's one event loop busy back to back (each 4 MiB reply is tens of
 * milliseconds of decoding, encoding and garbage collection), and every other
 * tenant's call then waits behind whatever piece of that work is running. So
 * while other namespaces are calling, a slot is also paced: after a read that
 * held it T ms it stays closed T × (1 − share) / share ms more before the next
 * in line gets it (`share` 0.5: as long again), which leaves the rest of the
 * time to the others. T runs until the turn after the read, so it counts the
 * reply's encoding too. The pause delays the next large read, never the reply
 * of the one that finished. With nobody else calling, nothing is paced: a lone
 * tenant paging through its history goes as fast as before.
 */
import { AppError } from './errors';

export interface ReadSlotPolicy {
  /** NAMESPACE_READS_IN_FLIGHT */
  inFlight: number;
  /** NAMESPACE_READS_QUEUED */
  queued: number;
  /** NAMESPACE_READS_SHARE: at most this share of the time per slot while other namespaces call; 1 = never paced. */
  share: number;
}

/** How long a caller refused for a full queue is told to wait. */
const RETRY_AFTER_MS = 100;
/** A namespace that made a call this recently is "calling": large reads of the others are paced. */
export const ACTIVE_WINDOW_MS = 1000;
/** Namespaces remembered as calling, at most (an admin key can name any namespace). */
const MAX_REMEMBERED = 4096;

export class ReadSlots {
  private readonly byNs = new Map<string, { running: number; waiting: (() => void)[] }>();
  /** Each namespace's last call (performance.now()). */
  private readonly lastCall = new Map<string, number>();

  constructor(readonly policy: ReadSlotPolicy) {}

  /** A call of `ns` arrived (every call, before its work). */
  called(ns: string): void {
    if (this.policy.share >= 1) return;
    const now = performance.now();
    this.lastCall.set(ns, now);
    if (this.lastCall.size > MAX_REMEMBERED) this.forgetIdle(now);
  }

  async run<T>(ns: string, fn: () => Promise<T>): Promise<T> {
    let s = this.byNs.get(ns);
    if (!s) this.byNs.set(ns, (s = { running: 0, waiting: [] }));
    if (s.running >= this.policy.inFlight) {
      if (s.waiting.length >= this.policy.queued) {
        throw new AppError(
          'RATE_LIMITED',
          `More than ${this.policy.inFlight + this.policy.queued} large reads at once in this namespace (NAMESPACE_READS_IN_FLIGHT, NAMESPACE_READS_QUEUED); retry in ${RETRY_AFTER_MS} ms`,
          { retryAfterMs: RETRY_AFTER_MS },
        );
      }
      await new Promise<void>((go) => s.waiting.push(go));
    } else {
      s.running++;
    }
    const started = performance.now();
    try {
      return await fn();
    } finally {
      const { share } = this.policy;
      const release = () => {
        const next = s.waiting.shift();
        // The slot passes straight to the next in line; the last one out removes the namespace's entry.
        if (next) next();
        else if (--s.running === 0) this.byNs.delete(ns);
      };
      if (share >= 1) release();
      // Timed on the next turn: the reply is encoded and copied in this one, after `fn` returns, and
      // that work (half of a 4 MiB page's) is the read's as much as reading it was.
      else
        setImmediate(() => {
          const now = performance.now();
          if (this.othersCalling(ns, now)) setTimeout(release, ((now - started) * (1 - share)) / share).unref();
          else release();
        });
    }
  }

  /** Whether a namespace other than `ns` called within ACTIVE_WINDOW_MS. */
  private othersCalling(ns: string, now: number): boolean {
    for (const [other, at] of this.lastCall) if (other !== ns && now - at <= ACTIVE_WINDOW_MS) return true;
    return false;
  }

  /** Drops namespaces idle for ACTIVE_WINDOW_MS; all of them if that leaves too many. */
  private forgetIdle(now: number): void {
    for (const [ns, at] of this.lastCall) if (now - at > ACTIVE_WINDOW_MS) this.lastCall.delete(ns);
    if (this.lastCall.size > MAX_REMEMBERED) this.lastCall.clear();
  }
}
