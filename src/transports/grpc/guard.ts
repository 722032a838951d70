/**
 * What keeps one gRPC caller from spending the service's memory and
 * connections for everyone (README, "Hardening"):
 *
 * - `admission`: a server interceptor that authenticates a call on its
 *   metadata, before any byte of its message is read (grpc-js keeps the
 *   stream paused until the handler asks for the message, so a refused call's
 *   body stays in the client's flow-control window, never in our memory),
 *   gives a request GRPC_REQUEST_TIMEOUT_MS to arrive whole, and bounds the
 *   replies a namespace's callers leave unread (unsent.ts): at most about
 *   NAMESPACE_UNSENT_REPLY_BYTES of them are held, and one not taken whole
 *   within GRPC_REPLY_SEND_TIMEOUT_MS is given up (its stream reset).
 * - `serverOptions`: streams per connection, idle and maximum connection age,
 *   keepalive pings that find dead peers, and the memory one HTTP/2 session
 *   may hold (grpc-js leaves that unbounded by default).
 * - `limitConnections`: at most GRPC_MAX_CONNECTIONS open connections; more
 *   are closed as they arrive, so the process never runs out of descriptors.
 */
import { constants as h2 } from 'node:http2';
import { Metadata, ServerInterceptingCall, status, type Server, type ServerInterceptor } from '@grpc/grpc-js';
import type { KeyRing } from '../../auth/api-keys';
import { authenticate } from '../../auth/authenticate';
import { AppError } from '../../core/errors';
import type { Logger } from '../../log';
import { headersOf } from './bind';
import { isEncoded, type Encoded } from './encode';
import { toServiceError } from './status';
import { UnsentReplies } from './unsent';

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
  /** Unary reply bytes one namespace's callers have not taken yet; at it, the namespace's calls are RATE_LIMITED. */
  namespaceUnsentReplyBytes: number;
  /** A unary reply not taken whole this long after it was written is given up (the stream is reset). */
  replySendTimeoutMs: number;
}

/** How long a call refused for its namespace's unread replies is told to wait. */
const UNSENT_RETRY_MS = 1000;

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

/**
 * The private HTTP/2 stream of grpc-js's innermost call (the `call` an
 * interceptor is given when it is the only one), pinned by the exact grpc-js
 * version in package.json; test/process/zero-window.test.ts fails if it moves.
 */
function streamOf(call: unknown): { close(code: number): void } | undefined {
  const stream = (call as { stream?: { close?: unknown } }).stream;
  return typeof stream?.close === 'function' ? (stream as { close(code: number): void }) : undefined;
}

/** Authentication on the metadata, the request-arrival deadline and the unsent-reply budget, for the services in `guarded`. */
export function admission(keys: KeyRing, guarded: readonly string[], limits: Pick<GrpcLimits, 'requestTimeoutMs' | 'namespaceUnsentReplyBytes' | 'replySendTimeoutMs'>, log: Logger): ServerInterceptor {
  const prefixes = guarded.map((s) => `/${s}/`);
  const { requestTimeoutMs, replySendTimeoutMs } = limits;
  const unsent = new UnsentReplies(limits.namespaceUnsentReplyBytes);
  const unsentRefusal = () =>
    new AppError(
      'RATE_LIMITED',
      `This namespace's callers have not read ${limits.namespaceUnsentReplyBytes} bytes of replies yet (NAMESPACE_UNSENT_REPLY_BYTES); retry in ${UNSENT_RETRY_MS} ms`,
      { retryAfterMs: UNSENT_RETRY_MS },
    );
  return (method, call) => {
    if (!prefixes.some((p) => method.path.startsWith(p))) return new ServerInterceptingCall(call);
    // Server streams (Subscribe) write as their reader drains (bind.ts) and are bounded by FEED_MAX_BUFFERED_EVENTS.
    const unary = !method.responseStream;
    let ns: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    let sendTimer: NodeJS.Timeout | undefined;
    let release: (() => void) | undefined;
    /** A unary reply's headers, sent with the reply once it is admitted (a refused one is answered trailers-only). */
    let headers: (() => void) | undefined;
    let ended = false;
    /** The caller went away (or its deadline passed): grpc-js drops a reply written after this, so it is never counted. */
    let cancelled = false;
    /** The reply is sent, given up, or the call is over: it no longer counts. */
    const settle = () => {
      clearTimeout(sendTimer);
      release?.();
      release = undefined;
    };
    const end = (err: unknown) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      settle();
      const st = toServiceError(err, log);
      call.sendStatus({ code: st.code ?? status.INTERNAL, details: st.details ?? '', metadata: st.metadata ?? new Metadata() });
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            try {
              const h = headersOf(metadata);
              ns = authenticate(keys, h.authorization, h.namespace);
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
            // Refused before any work while the namespace's unread replies fill its budget.
            if (unary && ns !== undefined && unsent.full(ns)) {
              end(unsentRefusal());
              return;
            }
            hcNext();
          },
          onCancel: () => {
            cancelled = true;
            clearTimeout(timer);
            settle();
          },
        }),
      sendMetadata: (metadata, next) => {
        if (!unary || ended) return next(metadata);
        headers = () => {
          headers = undefined;
          next(metadata);
        };
      },
      sendMessage: (message, next) => {
        if (!unary || ns === undefined || ended || cancelled) {
          headers?.();
          return next(message);
        }
        // Checked again with the reply in hand: calls that were admitted together cannot all add theirs.
        // A refused reply is dropped here, so at most the budget plus one reply is ever held.
        if (unsent.full(ns)) {
          headers = undefined;
          end(unsentRefusal());
          return;
        }
        let bytes: Encoded;
        try {
          // Encoded here to be counted; the method's serializer passes the bytes through (bind.ts).
          bytes = isEncoded(message) ? message : (method.responseSerialize(message) as Encoded);
        } catch (e) {
          headers = undefined;
          end(e);
          return;
        }
        release = unsent.hold(ns, bytes.byteLength);
        sendTimer = setTimeout(() => {
          log.debug({ method: method.path, bytes: bytes.byteLength }, 'reply not taken within GRPC_REPLY_SEND_TIMEOUT_MS; stream reset');
          settle();
          const stream = streamOf(call);
          if (stream) stream.close(h2.NGHTTP2_CANCEL);
          else log.error('grpc-js internals changed: cannot reset a stream whose reply is not taken');
        }, replySendTimeoutMs);
        headers?.();
        next(bytes);
      },
      // The handler's own status, unless this interceptor has already ended the call. For a unary
      // call it comes once the reply's last byte has been handed to the connection.
      sendStatus: (st, next) => {
        clearTimeout(timer);
        settle();
        if (ended) return;
        ended = true;
        headers?.();
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
