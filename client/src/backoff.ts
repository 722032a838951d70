/** Exponential backoff with jitter ("equal jitter": half the ceiling fixed, half random), and a sleep an AbortSignal can cut short. */

export interface BackoffPolicy {
  /** The first wait's ceiling (default 100 ms). */
  initialMs: number;
  /** The largest ceiling (default 2000 ms). */
  maxMs: number;
  /** Growth per attempt (default 2). */
  multiplier: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 2000, multiplier: 2 };

/** The wait before retry number `attempt` (1, 2, …): uniform in [ceiling / 2, ceiling]. */
export function backoffMs(attempt: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(p.maxMs, p.initialMs * p.multiplier ** Math.max(0, attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
