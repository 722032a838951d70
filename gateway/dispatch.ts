/**
 * Where the HTTP transport sends a call. Two ways that answer alike
 * (README, "Architecture"): in the service's own process, straight into the
 * operation table (`inProcess`: JSON is mapped once into the operation's
 * request message, the reply once into JSON), or to one or more service
 * instances over gRPC (`remote`, GRPC_TARGET), for deployments that put HTTP
 * at the edge.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { create, fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { Client, connectivityState, credentials, type ServiceError } from '@grpc/grpc-js';
import { AppError } from '../src/core/errors';
import type { Logger } from '../src/log';
import { NEVER, type Calls } from '../src/ops/calls';
import { asAppError } from '../src/transports/grpc/status';
import { errorFromStatus, httpError, retryAfter, type HttpError } from './errors';
import { metadataOf, single as header } from './headers';
import { requestFromJson, responseToJson } from './json';
import type { Route } from './routes';
import type { SseItem } from './sse';
import type { Reply } from '../src/ops/operation';
import { RESUME_ID_METADATA } from '../src/transports/grpc/bind';

export interface UnaryCall {
  route: Route;
  /** The parsed JSON body (undefined: `{}`). */
  body: unknown;
  headers: IncomingHttpHeaders;
  requestId: string;
  timeoutMs: number;
  /** The HTTP response: its 'close' before the answer means the caller went away. */
  res: ServerResponse;
}

/** A server-streaming call (served as SSE): ends when the caller leaves (`signal`). */
export interface StreamCall {
  route: Route;
  body: unknown;
  headers: IncomingHttpHeaders;
  requestId: string;
  signal: AbortSignal;
}

export interface Dispatcher {
  /**
   * Checks the caller from its headers alone, before the body is read: the
   * refusal to answer, or undefined. In-process this is the whole
   * authentication; the remote mode has no keys, so it only refuses what
   * can never pass (no bearer token), and the service decides the rest.
   */
  admit(headers: IncomingHttpHeaders): HttpError | undefined;
  /** The reply message, or throws; `answerFor` turns what it threw into the HTTP answer. */
  unary(call: UnaryCall): Promise<Message>;
  /** The items of a server stream as SSE frames; failures are thrown from the iterator, for `answerFor`. */
  stream(call: StreamCall): AsyncIterator<SseItem>;
  answerFor(err: unknown): HttpError;
  /** For /healthz: whether calls can be served now (waiting up to `waitMs`). */
  ready(waitMs: number): Promise<boolean>;
  close(): void;
}

/** An AppError as the HTTP answer the error table gives it. */
export function httpErrorOf(e: AppError): HttpError {
  return httpError(e.id, e.detail, retryAfter(e.retryAfterMs));
}

/** The operation table of this process. `serving()` is false while the service starts or drains. */
export function inProcess(calls: Calls, log: Logger, serving: () => boolean = () => true): Dispatcher {
  return {
    admit(headers) {
      try {
        calls.admit({ authorization: header(headers, 'authorization'), namespace: header(headers, 'micro-namespace') });
        return undefined;
      } catch (e) {
        return httpErrorOf(asAppError(e, log));
      }
    },
    unary(c) {
      const b = calls.table.get(c.route.grpcPath);
      if (!b) return Promise.reject(new AppError('NOT_FOUND', `No operation serves ${c.route.grpcPath}`));
      return calls.unary(
        b,
        () => requestFromJson(b.method.input, c.body),
        { authorization: header(c.headers, 'authorization'), namespace: header(c.headers, 'micro-namespace'), requestId: c.requestId },
        'http',
        // A unary operation runs to its end whoever waits for it (a write applies or not as a whole).
        { signal: NEVER, deadlineMs: c.timeoutMs },
      );
    },
    stream(c) {
      const b = calls.table.get(c.route.grpcPath)!;
      const output = b.method.output;
      const items = calls.stream(
        b,
        () => requestFromJson(b.method.input, c.body),
        { authorization: header(c.headers, 'authorization'), namespace: header(c.headers, 'micro-namespace'), requestId: c.requestId },
        'http',
        { signal: c.signal, resumeId: header(c.headers, 'last-event-id') },
      );
      return (async function* () {
        for await (const item of items) {
          yield { event: String(item.reply.type), id: item.resumeId?.(), data: sharedJson(output, item.reply) };
        }
      })();
    },
    answerFor: (err) => httpErrorOf(asAppError(err, log)),
    ready: async () => serving(),
    close: () => undefined,
  };
}

export interface RemoteOptions {
  /** Where the service listens, e.g. `localhost:50051`. */
  grpcTarget: string;
  /** Largest gRPC response accepted (the service's GRPC_MAX_SEND_BYTES). */
  maxResponseBytes?: number;
}

/** A gRPC channel to the service; the JSON is mapped here and the status mapped back. */
export function remote(opts: RemoteOptions, log: Logger): Dispatcher & { client: Client } {
  const client = new Client(opts.grpcTarget, credentials.createInsecure(), {
    'grpc.max_receive_message_length': opts.maxResponseBytes ?? 64 * 1024 * 1024,
    // Reconnect soon after the service comes back, so a restart is a short blip of 503s.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2000,
    'grpc.primary_user_agent': 'parley-gateway',
  });
  return {
    client,
    admit(headers) {
      if (header(headers, 'authorization') === undefined) {
        return httpError('UNAUTHORIZED', 'Missing authorization: send "authorization: Bearer <token>"');
      }
      return undefined;
    },
    unary(c) {
      const { route } = c;
      const request = requestFromJson(route.input, c.body);
      const metadata = metadataOf(c.headers, c.requestId);
      return new Promise((resolve, reject) => {
        const call = client.makeUnaryRequest<Message, Message>(
          route.grpcPath,
          (m) => Buffer.from(toBinary(route.input, m as never)),
          (b) => fromBinary(route.output, b),
          request,
          metadata,
          { deadline: Date.now() + c.timeoutMs },
          (err, value) => (err ? reject(err) : resolve(value!)),
        );
        c.res.on('close', () => {
          if (!c.res.writableFinished) call.cancel();
        });
      });
    },
    stream(c) {
      const { route } = c;
      const metadata = metadataOf(c.headers, c.requestId);
      metadata.set(RESUME_ID_METADATA, '1');
      return (async function* () {
        const request = requestFromJson(route.input, c.body);
        const call = client.makeServerStreamRequest<Message, Message & { type: string; resumeId: string }>(
          route.grpcPath,
          (m) => Buffer.from(toBinary(route.input, m as never)),
          (b) => fromBinary(route.output, b) as never,
          request,
          metadata,
          {},
        );
        const cancel = () => call.cancel();
        c.signal.addEventListener('abort', cancel, { once: true });
        try {
          for await (const m of call as AsyncIterable<Message & { type: string; resumeId: string }>) {
            const id = m.resumeId || undefined;
            m.resumeId = '';
            yield { event: m.type, id, data: eventJson(route.output, m) };
          }
        } finally {
          c.signal.removeEventListener('abort', cancel);
          call.cancel();
        }
      })();
    },
    answerFor(err) {
      if (err instanceof AppError) return httpErrorOf(err);
      const e = err as ServiceError;
      const answer = errorFromStatus(e);
      if (answer.status >= 500) log.warn({ code: e.code, details: e.details }, 'call failed');
      return answer;
    },
    ready: (waitMs) => channelReady(client, waitMs),
    close: () => client.close(),
  };
}

/** READY now, or within `waitMs` of asking the channel to connect. */
function channelReady(client: Client, waitMs: number): Promise<boolean> {
  const channel = client.getChannel();
  const until = Date.now() + waitMs;
  return new Promise((resolve) => {
    const check = () => {
      const state = channel.getConnectivityState(true);
      if (state === connectivityState.READY) return resolve(true);
      if (state === connectivityState.SHUTDOWN || state === connectivityState.TRANSIENT_FAILURE) return resolve(false);
      channel.watchConnectivityState(state, until, (err) => (err ? resolve(false) : check()));
    };
    check();
  });
}

/** An event as its SSE data: proto3 JSON, without resume_id (that is the frame's `id:`). */
function eventJson(output: DescMessage, m: Message): string {
  const json = responseToJson(output, m);
  delete json.resume_id;
  return JSON.stringify(json);
}

/** Replies shared by many subscribers (src/ops/subscribe.ts) are turned into JSON once. */
const jsonOfReply = new WeakMap<Reply, string>();
function sharedJson(output: DescMessage, reply: Reply): string {
  let s = jsonOfReply.get(reply);
  if (s === undefined) jsonOfReply.set(reply, (s = eventJson(output, create(output, reply))));
  return s;
}
