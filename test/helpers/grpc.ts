/**
 * gRPC test clients built from the generated service definitions: each method
 * takes a partial request (the rest are proto3 defaults) and returns a promise.
 */
import { Client, credentials, Metadata, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import { reasonOf, richDetails } from '../../src/transports/grpc/status';
import { ChatsService } from '../gen/chats/chats';
import { StreamsService } from '../gen/streams/streams';
import { ThreadsService } from '../gen/threads/threads';

interface MethodDef {
  path: string;
  requestSerialize: (v: never) => Buffer;
  requestDeserialize: (b: Buffer) => unknown;
  responseDeserialize: (b: Buffer) => unknown;
}

export type Promisified<S extends Record<string, MethodDef>> = {
  [K in keyof S]: (
    req: Partial<ReturnType<S[K]['requestDeserialize']>>,
    md?: Metadata,
    opts?: CallOptions,
  ) => Promise<ReturnType<S[K]['responseDeserialize']>>;
};

/** With `token`, every call sends `authorization: Bearer <token>` unless `md` already has one. */
export function promisify<S extends Record<string, MethodDef>>(client: Client, svc: S, token?: string): Promisified<S> {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(svc)) {
    const defaults = def.requestDeserialize(Buffer.alloc(0)) as object;
    out[name] = (req: object, md = new Metadata(), opts: CallOptions = {}) => {
      if (token && md.get('authorization').length === 0) md.set('authorization', `Bearer ${token}`);
      return (
      new Promise((res, rej) =>
        client.makeUnaryRequest(
          def.path,
          def.requestSerialize as (v: object) => Buffer,
          def.responseDeserialize,
          { ...defaults, ...req },
          md,
          opts,
          (err, value) => (err ? rej(err) : res(value)),
        ),
      ));
    };
  }
  return out as Promisified<S>;
}

export interface Clients {
  threads: Promisified<typeof ThreadsService>;
  chats: Promisified<typeof ChatsService>;
  streams: Promisified<typeof StreamsService>;
  close(): void;
}

/**
 * `ownConnection`: a connection of its own (grpc-js otherwise shares one per
 * target across clients), as separate callers would have.
 */
export function clients(address: string, token?: string, opts: { ownConnection?: boolean } = {}): Clients {
  const client = new Client(address, credentials.createInsecure(), opts.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {});
  return {
    threads: promisify(client, ThreadsService, token),
    chats: promisify(client, ChatsService, token),
    streams: promisify(client, StreamsService, token),
    close: () => client.close(),
  };
}

/** Awaits a call that must fail; returns its gRPC code, ErrorInfo reason and detail. */
export async function failure(p: Promise<unknown>): Promise<{ code: number; reason?: string; details: string; field?: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as ServiceError;
    const field = richDetails(err.metadata).field;
    return { code: err.code, reason: reasonOf(err.metadata), details: err.details, ...(field ? { field } : {}) };
  }
  throw new Error('expected the call to fail, it succeeded');
}

/**
 * A container without what moves as it is used (last_message_at, message_count, updated_at,
 * unread_count, last_message): for comparing a container before and after messages are written.
 */
export function stable<T extends object | undefined>(c: T): Partial<T> | undefined {
  if (!c) return undefined;
  const out = { ...c } as Record<string, unknown>;
  for (const k of ['lastMessageAt', 'messageCount', 'updatedAt', 'unreadCount', 'lastMessage']) delete out[k];
  return out as Partial<T>;
}
