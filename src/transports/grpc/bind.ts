/**
 * Binds the operation table to a grpc-js server: one service definition per
 * proto service, built from its descriptors (no hand-written method list),
 * with @bufbuild/protobuf as the codec. Unary calls and server streams both
 * go through `Calls`, so they authenticate, limit and count like the HTTP
 * transport.
 */
import { create, fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { isEncoded, replyEncoder, type Encoded } from './encode';
import type {
  Metadata,
  Server,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { AppError } from '../../core/errors';
import type { Logger } from '../../log';
import { NEVER, type CallerHeaders, type Calls } from '../../ops/calls';
import type { BoundOperation, Reply } from '../../ops/operation';
import { toServiceError } from './status';
import { invalidUtf8Field } from './utf8';

/** A request that could not be decoded, carrying the error to answer once the caller is authenticated. */
class Undecodable {
  constructor(readonly error: AppError) {}
}

/**
 * grpc-js answers INTERNAL when a request cannot be decoded; garbage from a
 * caller is INVALID_ARGUMENT, and invalid UTF-8 is INVALID_STRING naming the field.
 */
function decodeRequest(input: DescMessage, bytes: Buffer): Message | Undecodable {
  try {
    return fromBinary(input, bytes, { readUnknownFields: false });
  } catch {
    let field: string | undefined;
    try {
      field = invalidUtf8Field(bytes, input);
    } catch {
      // Not a well-formed message at all: no field to name.
    }
    return new Undecodable(
      field
        ? new AppError('INVALID_STRING', `${field} is not valid UTF-8`, { field })
        : new AppError('INVALID_ARGUMENT', "The request is not a valid protobuf message of this method's type", { field: 'request' }),
    );
  }
}

/** A stream call that wants each item's resume id in the message (the remote HTTP gateway's SSE). */
export const RESUME_ID_METADATA = 'x-parley-resume-id';

function first(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

/** The caller's headers of a call's metadata (`authorization`, `micro-namespace`, `x-request-id`). */
export function headersOf(md: Metadata): CallerHeaders {
  return { authorization: first(md, 'authorization'), namespace: first(md, 'micro-namespace'), requestId: first(md, 'x-request-id') };
}

const requestOf = (req: Message | Undecodable) => () => {
  if (req instanceof Undecodable) throw req.error;
  return req;
};

/** An AbortSignal that fires when the caller cancels or its deadline passes. */
function signalOf(call: { on(event: 'cancelled', f: () => void): unknown }): AbortSignal {
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort());
  return ac.signal;
}

export function bindOperations(server: Server, calls: Calls, log: Logger): void {
  for (const { service } of calls.table.services) {
    const definition: Record<string, ServiceDefinition[string]> = {};
    const handlers: UntypedServiceImplementation = {};
    for (const method of service.methods) {
      const b = calls.table.get(`/${service.typeName}/${method.name}`)!;
      definition[method.name] = {
        path: b.path,
        requestStream: false,
        responseStream: b.op.kind === 'stream',
        requestSerialize: (m: Message) => Buffer.from(toBinary(method.input, m)),
        requestDeserialize: (bytes: Buffer) => decodeRequest(method.input, bytes),
        // Pieces is not a Buffer, only what grpc-js reads of one (encode.ts).
        responseSerialize: b.op.kind === 'stream' ? streamSerializer(method.output) : (unarySerializer(method.output) as (m: Message) => Buffer),
        responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      };
      handlers[method.name] = b.op.kind === 'unary' ? unaryHandler(b, calls, log) : streamHandler(b, calls, log);
    }
    server.addService(definition, handlers);
  }
}

function unaryHandler(b: BoundOperation, calls: Calls, log: Logger) {
  return (call: ServerUnaryCall<Message | Undecodable, Message>, callback: sendUnaryData<Message>) => {
    calls.unary(b, requestOf(call.request), headersOf(call.metadata), 'grpc', { signal: NEVER }).then(
      (reply) => callback(null, reply),
      (err: unknown) => callback(toServiceError(err, log)),
    );
  };
}

/**
 * A unary reply: the admission interceptor (guard.ts) encodes it first, to
 * count its bytes, and hands the bytes on; anything else is encoded here
 * (encode.ts).
 */
function unarySerializer(output: DescMessage): (m: Message | Encoded) => Encoded {
  const encode = replyEncoder(output);
  return (m) => (isEncoded(m) ? m : encode(m));
}

/**
 * A stream's replies are written as the operation's plain reply objects and
 * encoded here, once per object: an event shared by many subscribers of one
 * instance is encoded once for all of them. The bytes are kept on the reply
 * (not enumerable: a copy of the reply, such as one with a resume id, is
 * encoded anew), not in a WeakMap, whose entries outlive every scavenge.
 */
const ENCODED = Symbol('encoded');
function streamSerializer(output: DescMessage): (r: Reply) => Buffer {
  return (r) => {
    let bytes = (r as { [ENCODED]?: Buffer })[ENCODED];
    if (!bytes) Object.defineProperty(r, ENCODED, { value: (bytes = Buffer.from(toBinary(output, create(output, r)))), enumerable: false });
    return bytes;
  };
}

/**
 * A server stream: items are written as the operation yields them, waiting
 * for the socket to drain when grpc-js says its buffer is full, so a slow
 * reader slows the operation (and, past FEED_MAX_BUFFERED_EVENTS, ends it)
 * instead of growing memory.
 */
function streamHandler(b: BoundOperation, calls: Calls, log: Logger) {
  return (call: ServerWritableStream<Message | Undecodable, Reply>) => {
    const signal = signalOf(call);
    void (async () => {
      try {
        const withResumeId = first(call.metadata, RESUME_ID_METADATA) === '1';
        const resumeId = first(call.metadata, 'last-event-id');
        for await (const item of calls.stream(b, requestOf(call.request), headersOf(call.metadata), 'grpc', { signal, resumeId })) {
          if (signal.aborted) return;
          if (!call.write(withResumeId ? { ...item.reply, resumeId: item.resumeId?.() ?? '' } : item.reply)) {
            await new Promise<void>((done) => {
              const finish = () => {
                call.off('drain', finish);
                signal.removeEventListener('abort', finish);
                done();
              };
              call.once('drain', finish);
              signal.addEventListener('abort', finish, { once: true });
            });
          }
        }
        call.end();
      } catch (err) {
        if (!signal.aborted) call.emit('error', toServiceError(err, log));
      }
    })();
  };
}
