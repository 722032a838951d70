/**
 * The one bridge from an async handler to grpc-js's callback style. Every
 * throw (sync or async) becomes a status through toServiceError, so a handler
 * can never crash the process or leave a call hanging.
 */
import { status, type handleUnaryCall, type ServerUnaryCall } from '@grpc/grpc-js';
import { AppError } from '../core/errors';
import type { Logger } from '../log';
import { callMetrics, grpcInFlight } from '../metrics/service';
import { toServiceError } from './status';
import type { FileRegistry } from '@bufbuild/protobuf';
import type { BinaryReader } from '@bufbuild/protobuf/wire';
import { InvalidUtf8, invalidUtf8Field, requestType, strictReader } from './request-utf8';

/** What a handler knows about its call beyond the request. */
export interface CallContext {
  /** The tenant namespace every key of this call lives in. */
  ns: string;
  log: Logger;
  requestId: string;
}

/** Derives a call's context (namespace, logger) from its metadata; may throw (e.g. UNAUTHORIZED). */
export type ContextOf = (call: ServerUnaryCall<unknown, unknown>) => Promise<CallContext>;

export type Handler<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res>;

export type Unary = <Req, Res>(fn: Handler<Req, Res>) => handleUnaryCall<Req, Res>;

/** Marks a request that could not be decoded; holds the error to answer (see `tolerantDecoding`). */
const UNDECODABLE = Symbol('undecodable');

type Deserialize = (b: Buffer | BinaryReader) => unknown;

/**
 * grpc-js answers INTERNAL when a request cannot be decoded; garbage from a
 * caller is INVALID_ARGUMENT. So each method's decoder returns a marker
 * instead of throwing, and the handler wrapper turns it into that error. The
 * decoder reads strings strictly: invalid UTF-8 is INVALID_STRING naming the
 * field, not text silently patched with U+FFFD.
 */
export function tolerantDecoding<S extends Record<string, { path: string; requestDeserialize: (b: Buffer) => unknown }>>(
  svc: S,
  registry: FileRegistry,
): S {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(svc)) {
    const type = requestType(registry, def.path);
    // ts-proto's decode takes a BinaryReader as well as bytes; ours reads strings strictly.
    const decode = def.requestDeserialize as Deserialize;
    out[name] = {
      ...def,
      requestDeserialize: (b: Buffer) => {
        try {
          return decode(strictReader(b));
        } catch (err) {
          const field = err instanceof InvalidUtf8 && type ? invalidUtf8Field(b, type) : undefined;
          const error = field
            ? new AppError('INVALID_STRING', `${field} is not valid UTF-8`, { field })
            : new AppError('INVALID_ARGUMENT', "The request is not a valid protobuf message of this method's type", { field: 'request' });
          return { [UNDECODABLE]: error };
        }
      },
    };
  }
  return out as S;
}

export function makeUnary(log: Logger, contextOf: ContextOf): Unary {
  return (fn) => (call, callback) => {
    let ctxRef: { log: Logger } | undefined;
    const callLog = () => ctxRef?.log ?? log;
    const started = process.hrtime.bigint();
    grpcInFlight.inc();
    const done = (code: number) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = call.getPath();
      const name = status[code] ?? String(code);
      grpcInFlight.dec();
      const m = callMetrics(method, name);
      m.calls.inc();
      m.latency.observe(seconds);
      if (log.isLevelEnabled('debug')) callLog().debug({ method, code: name, ms: seconds * 1e3 }, 'call');
    };
    Promise.resolve()
      .then(() => contextOf(call as ServerUnaryCall<unknown, unknown>))
      .then((ctx) => {
        ctxRef = ctx;
        const undecodable = (call.request as { [UNDECODABLE]?: AppError })[UNDECODABLE];
        if (undecodable) throw undecodable;
        return fn(call.request, ctx);
      })
      .then(
        (res) => {
          callback(null, res);
          done(0);
        },
        (err: unknown) => {
          const st = toServiceError(err, callLog());
          callback(st);
          done(st.code ?? -1);
        },
      );
  };
}
