/**
 * The service without its transports: the core over a store, the operation
 * table over the core, and the call pipeline (authentication, rate limits)
 * over the table. `main.ts` binds it to gRPC and HTTP; tests do the same.
 */
import type { KeyRing } from './auth/api-keys';
import { Containers } from './core/containers';
import { Cursors } from './core/cursors';
import { DEFAULT_READ_SLOTS, type Limits } from './core/limits';
import { ReadSlots, type ReadSlotPolicy } from './core/read-slots';
import type { RateLimiter } from './core/model';
import { Throttle, type RatePolicy } from './core/throttle';
import type { ContainerStore, FeedStore, WakeSource } from './core/model';
import { Hub } from './feed/hub';
import type { Logger } from './log';
import { Calls } from './ops/calls';
import { buildOperations } from './ops/table';

/**
 * `cursorSecret` (CURSOR_SECRET) when given; else the one every instance
 * shares through the store. `wake`: the live feed's wake-ups (one
 * connection for the instance).
 */
export async function buildCalls(
  store: ContainerStore & FeedStore & RateLimiter,
  opts: { limits: Limits; rate: RatePolicy; reads?: ReadSlotPolicy; keys: KeyRing; cursorSecret?: Buffer; wake: WakeSource; chatsMembersOnly?: boolean },
  log: Logger,
): Promise<Calls> {
  const throttle = new Throttle(store, opts.rate);
  const reads = new ReadSlots(opts.reads ?? DEFAULT_READ_SLOTS);
  const core = new Containers(store, opts.limits, throttle, reads, undefined, opts.chatsMembersOnly);
  const cursors = new Cursors(opts.cursorSecret ?? (await store.sharedSecret()));
  const hub = new Hub(store, opts.wake, log);
  return new Calls(buildOperations(core, cursors, { hub, store }), opts.keys, log, throttle, hub, reads);
}
