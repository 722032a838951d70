/**
 * An operation is one RPC, independent of any transport: `(request, ctx) →
 * reply` for a unary method, `(request, ctx) → AsyncIterable<event>` for a
 * server stream. Requests arrive as the method's input message (the same
 * object whether gRPC decoded it from binary or the HTTP transport from
 * JSON); replies are the output message's fields, which the transport turns
 * into the output message once. Every operation checks its own request.
 *
 * The table holds one operation per method, keyed by the method's descriptor
 * path (`/threads.Threads/CreateThread`); transports bind the table, never a
 * method by hand (`transports/grpc.ts`, `gateway/`).
 */
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import type { Logger } from '../log';

/** What an operation knows about its call beyond the request. */
export interface CallContext {
  /** The tenant namespace every key of this call lives in. */
  ns: string;
  readonly log: Logger;
  readonly requestId: string;
  /** Aborted when the caller goes away or its deadline passes. */
  signal: AbortSignal;
  /** Server streams over SSE: the caller's `Last-Event-ID` (a StreamItem's resumeId). */
  resumeId?: string;
}

/** The fields of a reply (a message init: nested messages as plain objects). */
export type Reply = Record<string, unknown>;

// Operations are written over several APIs' request types at once (ops/shared.ts),
// so the table stores them over a structural request type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRequest = any;

export interface UnaryOperation {
  kind: 'unary';
  run(req: AnyRequest, ctx: CallContext): Promise<Reply>;
}

/** One message of a server stream. */
export interface StreamItem {
  reply: Reply;
  /** Where the whole call stands after this item (SSE sends it as `id:`; a reconnect passes it back as `resumeId`). */
  resumeId?: () => string;
}

export interface StreamOperation {
  kind: 'stream';
  run(req: AnyRequest, ctx: CallContext): AsyncIterable<StreamItem>;
}

export type Operation = UnaryOperation | StreamOperation;

export const unary = (run: UnaryOperation['run']): UnaryOperation => ({ kind: 'unary', run });
export const stream = (run: StreamOperation['run']): StreamOperation => ({ kind: 'stream', run });

/** An operation with the method it serves. */
export interface BoundOperation {
  /** `/package.Service/Method`, as gRPC names it. */
  path: string;
  method: DescMethod;
  op: Operation;
}

/** Operations by method name, for one service. */
export type ServiceOperations = Record<string, Operation>;

export class OperationTable {
  private readonly byPath = new Map<string, BoundOperation>();

  /**
   * Binds each service's operations to its methods. A method without an
   * operation, an operation without a method, or one whose kind does not
   * match the method's (unary / server streaming) stops the start.
   */
  constructor(readonly services: readonly { service: DescService; ops: ServiceOperations }[]) {
    for (const { service, ops } of services) {
      const names = new Set(Object.keys(ops));
      for (const method of service.methods) {
        const op = ops[method.name];
        const path = `/${service.typeName}/${method.name}`;
        if (!op) throw new Error(`No operation serves ${path}`);
        const want = method.methodKind === 'unary' ? 'unary' : method.methodKind === 'server_streaming' ? 'stream' : undefined;
        if (op.kind !== want) throw new Error(`${path} is ${method.methodKind}; its operation is ${op.kind}`);
        this.byPath.set(path, { path, method, op });
        names.delete(method.name);
      }
      if (names.size) throw new Error(`Operations for methods ${service.typeName} does not have: ${[...names].join(', ')}`);
    }
  }

  get(path: string): BoundOperation | undefined {
    return this.byPath.get(path);
  }

  all(): IterableIterator<BoundOperation> {
    return this.byPath.values();
  }
}
