/**
 * How every transport runs a call: the caller's headers → a context
 * (authentication, the namespace rate limit, a request id and logger made
 * only when something logs) → the operation → the reply as the method's
 * output message, counted by method, transport and outcome. gRPC and the
 * in-process HTTP transport both come through here, so they authenticate,
 * limit, validate and answer alike.
 */
import { randomUUID } from 'node:crypto';
import { create, type Message } from '@bufbuild/protobuf';
import type { KeyRing } from '../auth/api-keys';
import { authenticate } from '../auth/authenticate';
import { AppError } from '../core/errors';
import type { Throttle } from '../core/throttle';
import type { Logger } from '../log';
import { callMetrics, callsInFlight } from '../metrics/service';
import type { BoundOperation, CallContext, OperationTable, StreamItem, StreamOperation, UnaryOperation } from './operation';

/** What a caller sends beside its request: gRPC metadata or HTTP headers of these names. */
export interface CallerHeaders {
  authorization?: string;
  /** `micro-namespace` */
  namespace?: string;
  /** `x-request-id` */
  requestId?: string;
}

export type Transport = 'grpc' | 'http';

/** The signal of a call nothing can abort: unary operations run to their end (a write applies whole or not at all). */
export const NEVER: AbortSignal = new AbortController().signal;

/**
 * A call's context; its request id and logger are made only when something
 * asks. A class, not an object literal with getters: a literal's getters are
 * new closures for every call, so every context got a hidden class of its
 * own, which V8 allocates in the old generation; it kept the getters, and
 * through them the call's objects, alive through every scavenge until a full
 * GC (1.3 MB promoted per scavenge at 1,000 calls/s with a hundred live-feed
 * subscribers open; src/store/light-pipelines.ts tells the same story).
 */
class Context implements CallContext {
  resumeId?: string;
  private callLog?: Logger;

  constructor(
    public ns: string,
    public signal: AbortSignal,
    private readonly baseLog: Logger,
    private id: string | undefined,
  ) {}

  get requestId(): string {
    return (this.id ??= randomUUID());
  }

  get log(): Logger {
    return (this.callLog ??= this.baseLog.child({ requestId: this.requestId }));
  }
}

export class Calls {
  constructor(
    readonly table: OperationTable,
    private readonly keys: KeyRing,
    private readonly log: Logger,
    private readonly throttle?: Throttle,
    /** Ends every open server stream (SIGTERM: they are not waited for like unary calls). */
    private readonly streams?: { close(): void },
    /** Told of every admitted call's namespace (large reads are paced while other namespaces call). */
    private readonly activity?: { called(ns: string): void },
  ) {}

  /** Ends open server streams with UNAVAILABLE so their callers resume elsewhere. */
  endStreams(): void {
    this.streams?.close();
  }

  /** The caller's namespace from its headers alone; throws UNAUTHORIZED or FORBIDDEN. Cheap: tokens that passed once are remembered. */
  admit(h: CallerHeaders): string {
    return authenticate(this.keys, h.authorization, h.namespace);
  }

  /** The context of a call; throws UNAUTHORIZED, FORBIDDEN or RATE_LIMITED. */
  async context(h: CallerHeaders, signal: AbortSignal): Promise<CallContext> {
    const ns = this.admit(h);
    this.activity?.called(ns);
    if (this.throttle) await this.throttle.namespace(ns);
    return new Context(ns, signal, this.log, h.requestId?.slice(0, 128) || undefined);
  }

  /**
   * One unary call. `request` is read after authentication (a caller without
   * a valid token learns nothing about its request); it may throw the
   * transport's decoding error. With `deadlineMs`, a call still running then
   * fails DEADLINE_EXCEEDED (its write may still apply, as with any deadline).
   */
  async unary(
    b: BoundOperation,
    request: () => Message,
    h: CallerHeaders,
    transport: Transport,
    opts: { signal: AbortSignal; deadlineMs?: number },
  ): Promise<Message> {
    const started = performance.now();
    callsInFlight.inc();
    let code = 'OK';
    let ctx: CallContext | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      ctx = await this.context(h, opts.signal);
      const run = (b.op as UnaryOperation).run(request(), ctx);
      let reply;
      if (opts.deadlineMs === undefined) {
        reply = await run;
      } else {
        run.catch(() => undefined);
        reply = await Promise.race([
          run,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new AppError('DEADLINE_EXCEEDED')), opts.deadlineMs);
          }),
        ]);
      }
      return create(b.method.output, reply);
    } catch (err) {
      const e = this.failure(err, b, ctx);
      code = e.code;
      throw e;
    } finally {
      clearTimeout(timer);
      callsInFlight.dec();
      const seconds = (performance.now() - started) / 1e3;
      const m = callMetrics(b.path, transport, code);
      m.calls.inc();
      m.latency.observe(seconds);
      if (this.log.isLevelEnabled('debug')) (ctx?.log ?? this.log).debug({ method: b.path, code, ms: seconds * 1e3 }, 'call');
    }
  }

  /**
   * One server stream: authenticated and limited like a unary call, then the
   * operation's items as it yields them; counted once, when it ends, by how
   * it ended. The transport pulls items at the pace its caller reads them.
   */
  async *stream(
    b: BoundOperation,
    request: () => Message,
    h: CallerHeaders,
    transport: Transport,
    opts: { signal: AbortSignal; resumeId?: string },
  ): AsyncGenerator<StreamItem> {
    const started = performance.now();
    let code = 'OK';
    let ctx: CallContext | undefined;
    try {
      ctx = await this.context(h, opts.signal);
      ctx.resumeId = opts.resumeId;
      yield* (b.op as StreamOperation).run(request(), ctx);
    } catch (err) {
      const e = this.failure(err, b, ctx);
      code = e.code;
      throw e;
    } finally {
      if (opts.signal.aborted && code === 'OK') code = 'CANCELLED';
      const m = callMetrics(b.path, transport, code);
      m.calls.inc();
      m.latency.observe((performance.now() - started) / 1e3);
    }
  }

  /** What a call that threw answers: its AppError, or INTERNAL for anything else (logged here, once; the caller sees only "Internal error"). */
  private failure(err: unknown, b: BoundOperation, ctx: CallContext | undefined): AppError {
    if (err instanceof AppError) return err;
    (ctx?.log ?? this.log).error({ err, method: b.path }, 'unexpected error');
    return new AppError('INTERNAL');
  }
}
