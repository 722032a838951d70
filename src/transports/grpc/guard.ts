/**
 * What keeps one gRPC caller from spending the service's memory and
 * connections for everyone (README, "Hardening"):
 *
 * - `admission`: a server interceptor that authenticates a call on its
 *   metadata, before any byte of its message is read (grpc-js keeps the
 *   stream paused until the handler asks for the message, so a refused call's
 *   body stays in the client's flow-control window, never in our memory), and
 *   gives a request GRPC_REQUEST_TIMEOUT_MS to arrive whole.
 * - `serverOptions`: streams per connection, idle and maximum connection age,
 *   keepalive pings that find dead peers, and the memory one HTTP/2 session
 *   may hold (grpc-js leaves that unbounded by default).
 * - `limitConnections`: at most GRPC_MAX_CONNECTIONS open connections; more
 *   are closed as they arrive, so the process never runs out of descriptors.
 */
import { Metadata, ServerInterceptingCall, status, type Server, type ServerInterceptor } from '@grpc/grpc-js';
import type { KeyRing } from '../../auth/api-keys';
import { authenticate } from '../../auth/authenticate';
import { AppError } from '../../core/errors';
import type { Logger } from '../../log';
import { headersOf } from './bind';
import { toServiceError } from './status';

export interface GrpcLimits {
  /** Concurrent streams (calls) on one connection. */
  maxConcurrentStreams: number;
  /** Open connections; more are closed on arrival. */
  maxConnections: number;
  /** A connection with no call for this long is closed (GOAWAY; clients reconnect by themselves). */
  maxConnectionIdleMs: number;
  /** A connection is closed after this long, calls in flight get `maxConnectionAgeGraceMs` to finish (0: never). */
  maxConnectionAgeMs: number;
  maxConnectionAgeGraceMs: number;
  /** Ping an idle peer this often, and drop it when the ping is not answered within the timeout. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Memory one HTTP/2 session (connection) may hold, in MiB; past it new streams are refused. */
  maxSessionMemoryMiB: number;
  /** From a call's headers to its last request byte. */
  requestTimeoutMs: number;
}

export function serverOptions(l: GrpcLimits): Record<string, number> {
  return {
    'grpc.max_concurrent_streams': l.maxConcurrentStreams,
    'grpc.max_connection_idle_ms': l.maxConnectionIdleMs,
    ...(l.maxConnectionAgeMs > 0 ? { 'grpc.max_connection_age_ms': l.maxConnectionAgeMs, 'grpc.max_connection_age_grace_ms': l.maxConnectionAgeGraceMs } : {}),
    'grpc.keepalive_time_ms': l.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': l.keepaliveTimeoutMs,
    'grpc-node.max_session_memory': l.maxSessionMemoryMiB,
  };
}

/** Authentication on the metadata and the request-arrival deadline, for the services in `guarded`. */
export function admission(keys: KeyRing, guarded: readonly string[], requestTimeoutMs: number, log: Logger): ServerInterceptor {
  const prefixes = guarded.map((s) => `/${s}/`);
  return (method, call) => {
    if (!prefixes.some((p) => method.path.startsWith(p))) return new ServerInterceptingCall(call);
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const end = (err: unknown) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      const st = toServiceError(err, log);
      call.sendStatus({ code: st.code ?? status.INTERNAL, details: st.details ?? '', metadata: st.metadata ?? new Metadata() });
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            try {
              const h = headersOf(metadata);
              authenticate(keys, h.authorization, h.namespace);
            } catch (e) {
              // Answered now: the message is never read.
              end(e);
              return;
            }
            timer = setTimeout(
              () => end(new AppError('DEADLINE_EXCEEDED', `The request did not arrive whole within ${requestTimeoutMs} ms (GRPC_REQUEST_TIMEOUT_MS)`)),
              requestTimeoutMs,
            );
            mdNext(metadata);
          },
          onReceiveHalfClose: (hcNext) => {
            clearTimeout(timer);
            hcNext();
          },
          onCancel: () => clearTimeout(timer),
        }),
      // The handler's own status, unless this interceptor has already ended the call.
      sendStatus: (st, next) => {
        clearTimeout(timer);
        if (ended) return;
        ended = true;
        next(st);
      },
    });
  };
}

/**
 * grpc-js has no connection limit, so each of its listening HTTP/2 servers
 * (a net.Server) gets one; call after binding. grpc-js keeps them in a private
 * map, pinned by the exact grpc-js version in package.json; a test
 * (test/api/limits.test.ts) fails if that ever stops working.
 */
export function limitConnections(server: Server, maxConnections: number): number {
  const servers = (server as unknown as { http2Servers?: Map<{ maxConnections?: number }, unknown> }).http2Servers;
  if (!servers) throw new Error('grpc-js internals changed: cannot limit connections');
  for (const s of servers.keys()) s.maxConnections = maxConnections;
  return servers.size;
}
