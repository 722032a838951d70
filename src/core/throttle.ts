/**
 * Rate limits (README, "Rate limits"): a token bucket per namespace for every
 * call, and one per container for message writes. Both are off by default
 * (rate 0): an internal service is usually limited at its edge.
 */
import { AppError } from './errors';
import type { Kind, RateLimiter } from './model';

export interface RatePolicy {
  /** Calls per second per namespace; 0 = no limit. */
  namespaceRps: number;
  namespaceBurst: number;
  /** Message writes per second per thread, chat or conversation; 0 = no limit. */
  containerRps: number;
  containerBurst: number;
}

export const NO_RATE_LIMITS: RatePolicy = { namespaceRps: 0, namespaceBurst: 0, containerRps: 0, containerBurst: 0 };

export class Throttle {
  constructor(
    private readonly limiter: RateLimiter,
    readonly policy: RatePolicy,
  ) {}

  async namespace(ns: string): Promise<void> {
    const { namespaceRps: rps, namespaceBurst: burst } = this.policy;
    if (rps <= 0) return;
    const r = await this.limiter.take({ ns }, rps, Math.max(1, burst || rps));
    if (!r.ok) throw limited(`more than ${rps} calls per second in this namespace`, r.retryAfterMs);
  }

  async container(ns: string, kind: Kind, containerId: string): Promise<void> {
    const { containerRps: rps, containerBurst: burst } = this.policy;
    if (rps <= 0) return;
    const r = await this.limiter.take({ ns, kind, containerId }, rps, Math.max(1, burst || rps));
    if (!r.ok) throw limited(`more than ${rps} messages per second in this ${kind}`, r.retryAfterMs);
  }
}

function limited(what: string, retryAfterMs: number): AppError {
  return new AppError('RATE_LIMITED', `Rate limited: ${what}; retry in ${retryAfterMs} ms`, { retryAfterMs });
}
