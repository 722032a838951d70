/**
 * createClient: one gRPC channel, three typed services. Every unary method
 * of the generated service descriptors becomes `(request, options?) =>
 * Promise<response>`, typed from the generated messages; each call has a
 * deadline and retries only what is safe to retry (README of client/).
 */
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import { Client, credentials as grpcCredentials, Metadata, status, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { backoffMs, DEFAULT_BACKOFF, sleep, type BackoffPolicy } from './backoff';
import { ParleyError, toParleyError } from './errors';
import { Chats as ChatsService } from './gen/chats/chats_pb';
import { Streams as StreamsService } from './gen/streams/streams_pb';
import { Threads as ThreadsService } from './gen/threads/threads_pb';
import { Subscription, FEEDS, type SubscribeOptions, type SubscribeRequests } from './subscribe';

export interface ClientOptions {
  /** `host:port` of the service's gRPC listener. */
  target: string;
  /** The API key: sent as `authorization: Bearer <token>` on every call. */
  token: string;
  /** Sent as `micro-namespace` when given (it must be the token's namespace). */
  namespace?: string;
  /** Default: insecure (plain HTTP/2), as `make start` listens. */
  credentials?: ChannelCredentials;
  /** Each call's deadline unless the call says otherwise, retries included (default 10 000 ms). */
  deadlineMs?: number;
  /** Attempts per call at most, the first included (default 10). */
  maxAttempts?: number;
  /** The waits between retries on UNAVAILABLE, and between a live feed's reconnects. */
  backoff?: Partial<BackoffPolicy>;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
  /** Told of each retry of any call: the failure, the attempt that failed (1, 2, …) and the wait before the next. */
  onRetry?: RetryListener;
}

export type RetryListener = (info: { method: string; error: ParleyError; attempt: number; waitMs: number }) => void;

export interface CallOptions {
  /** This call's deadline in ms from now, retries included. */
  deadlineMs?: number;
  /** Cancels the call (and any retry wait). */
  signal?: AbortSignal;
  /** Extra metadata, e.g. `x-request-id`. */
  metadata?: Record<string, string>;
  /** `false`: one attempt, whatever the failure. */
  retry?: boolean;
  /** Told of each retry of this call (besides the client's onRetry). */
  onRetry?: RetryListener;
}

/** The unary methods of a generated service, typed from its messages. */
export type ServiceClient<S> =
  S extends GenService<infer M extends GenServiceMethods>
    ? {
        [K in keyof M as M[K]['methodKind'] extends 'unary' ? K : never]: (
          request: MessageInitShape<M[K]['input']>,
          options?: CallOptions,
        ) => Promise<MessageShape<M[K]['output']>>;
      }
    : never;

export type ThreadsClient = ServiceClient<typeof ThreadsService> & { subscribe(req: SubscribeRequests['threads'], opts?: SubscribeOptions): Promise<Subscription<'threads'>> };
export type ChatsClient = ServiceClient<typeof ChatsService> & { subscribe(req: SubscribeRequests['chats'], opts?: SubscribeOptions): Promise<Subscription<'chats'>> };
export type StreamsClient = ServiceClient<typeof StreamsService> & { subscribe(req: SubscribeRequests['streams'], opts?: SubscribeOptions): Promise<Subscription<'streams'>> };

export interface ParleyClient {
  threads: ThreadsClient;
  chats: ChatsClient;
  streams: StreamsClient;
  /** Closes the channel; calls in flight fail with CANCELLED / UNAVAILABLE. */
  close(): void;
}

/** Writes the client fills a message id into when the caller gives none, so a retry cannot store a message twice. */
const FILLS_CLIENT_ID = new Set(['threads.Threads/CreateMessage', 'chats.Chats/SendMessage', 'streams.Streams/CreateMessage']);
/** Writes that are retried when they carry an id (the service answers the stored one for a repeated id). */
const CLIENT_ID_WRITES = new Set([...FILLS_CLIENT_ID, 'chats.Chats/CreateChat']);
/** Reads: safe to repeat. */
const READ = /^(List|Read|Recent|GetUnread)/;

export const pathOf = (m: DescMethod) => `/${m.parent.typeName}/${m.name}`;

/** Whether a failed attempt of `method` with `request` may be tried again on UNAVAILABLE. */
export function retryableOnUnavailable(method: DescMethod, request: { id?: unknown }): boolean {
  if (READ.test(method.name)) return true;
  return CLIENT_ID_WRITES.has(`${method.parent.typeName}/${method.name}`) && typeof request.id === 'string' && request.id !== '';
}

/** The shared machinery: metadata, one attempt, the retry loop. Used by the services and the live feed. */
export class Caller {
  readonly backoff: BackoffPolicy;
  constructor(
    readonly grpc: Client,
    private readonly opts: ClientOptions,
  ) {
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
  }

  metadata(extra?: Record<string, string>): Metadata {
    const md = new Metadata();
    md.set('authorization', `Bearer ${this.opts.token}`);
    if (this.opts.namespace) md.set('micro-namespace', this.opts.namespace);
    for (const [k, v] of Object.entries(extra ?? {})) md.set(k, v);
    return md;
  }

  private once<I extends DescMessage, O extends DescMessage>(method: DescMethod & { input: I; output: O }, request: MessageShape<I>, deadline: number, options: CallOptions): Promise<MessageShape<O>> {
    return new Promise((resolve, reject) => {
      const call = this.grpc.makeUnaryRequest(
        pathOf(method),
        (m: MessageShape<I>) => Buffer.from(toBinary(method.input, m)),
        (b: Buffer) => fromBinary(method.output, b),
        request,
        this.metadata(options.metadata),
        { deadline: new Date(deadline) },
        (err, value) => {
          options.signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve(value!);
        },
      );
      const onAbort = () => call.cancel();
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One call with its deadline and retries; every failure a ParleyError. */
  async unary<I extends DescMessage, O extends DescMessage>(method: DescMethod & { input: I; output: O }, init: MessageInitShape<I>, options: CallOptions = {}): Promise<MessageShape<O>> {
    const path = pathOf(method);
    const request = create(method.input, init) as MessageShape<I> & { id?: unknown };
    if (FILLS_CLIENT_ID.has(path.slice(1)) && !request.id) request.id = randomUUID();
    const deadline = Date.now() + (options.deadlineMs ?? this.opts.deadlineMs ?? 10_000);
    const maxAttempts = options.retry === false ? 1 : (this.opts.maxAttempts ?? 10);
    const onUnavailable = retryableOnUnavailable(method, request);
    for (let attempt = 1; ; attempt++) {
      if (options.signal?.aborted) throw toParleyError({ code: status.CANCELLED, details: 'aborted by the caller' }, path);
      try {
        return await this.once(method, request, deadline, options);
      } catch (e) {
        const err = toParleyError(e, path);
        let wait: number | undefined;
        if (err.code === status.RESOURCE_EXHAUSTED && err.id === 'RATE_LIMITED') {
          // Refused before it ran, whatever the method: wait as told (a little more, so callers told the same wait spread out).
          wait = (err.retryAfterMs ?? backoffMs(attempt, this.backoff)) * (1 + Math.random() * 0.1);
        } else if (err.code === status.UNAVAILABLE && onUnavailable) {
          wait = backoffMs(attempt, this.backoff);
        }
        if (wait === undefined || attempt >= maxAttempts || Date.now() + wait >= deadline || options.signal?.aborted) throw err;
        for (const listener of [this.opts.onRetry, options.onRetry]) listener?.({ method: path, error: err, attempt, waitMs: wait });
        try {
          await sleep(wait, options.signal);
        } catch {
          throw err;
        }
      }
    }
  }
}

function serviceClient<S extends DescService>(caller: Caller, service: S): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of service.methods) {
    if (m.methodKind !== 'unary') continue;
    out[m.localName] = (req: MessageInitShape<DescMessage>, options?: CallOptions) => caller.unary(m, req, options);
  }
  return out;
}

export function createClient(opts: ClientOptions): ParleyClient {
  const grpc = new Client(opts.target, opts.credentials ?? grpcCredentials.createInsecure(), {
    // Reconnect soon after the service comes back: a restart is a short blip, not a long backoff.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.primary_user_agent': 'parley-node-client',
    ...opts.channelOptions,
  });
  const caller = new Caller(grpc, opts);
  const threads = serviceClient(caller, ThreadsService) as ThreadsClient;
  threads.subscribe = (req, o) => new Subscription<'threads'>(caller, FEEDS.threads, req, o).prepare();
  const chats = serviceClient(caller, ChatsService) as ChatsClient;
  chats.subscribe = (req, o) => new Subscription<'chats'>(caller, FEEDS.chats, req, o).prepare();
  const streams = serviceClient(caller, StreamsService) as StreamsClient;
  streams.subscribe = (req, o) => new Subscription<'streams'>(caller, FEEDS.streams, req, o).prepare();
  return { threads, chats, streams, close: () => grpc.close() };
}

export { ParleyError };
