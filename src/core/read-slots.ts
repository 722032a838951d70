/**
 * Reads that can be expensive (message lists, RecentMessages and container
 * lists that may answer more than 1 MiB under the size limits) take a slot of
 * their namespace: at most `inFlight` run at once per
 * namespace on this instance, `queued` more wait their turn in order, and
 * past that the call is RATE_LIMITED with a short retry delay. So one tenant's
 * flood of large reads queues behind itself, and Redis and this process keep
 * serving the other tenants (README, "Fairness").
 */
import { AppError } from './errors';

export interface ReadSlotPolicy {
  /** NAMESPACE_READS_IN_FLIGHT */
  inFlight: number;
  /** NAMESPACE_READS_QUEUED */
  queued: number;
}

/** How long a caller refused for a full queue is told to wait. */
const RETRY_AFTER_MS = 100;

export class ReadSlots {
  private readonly byNs = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(readonly policy: ReadSlotPolicy) {}

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
    try {
      return await fn();
    } finally {
      const next = s.waiting.shift();
      // The slot passes straight to the next in line; the last one out removes the namespace's entry.
      if (next) next();
      else if (--s.running === 0) this.byNs.delete(ns);
    }
  }
}
