/**
 * The gRPC server: the three services over one core, standard health checking
 * (grpc.health.v1) and server reflection built from the real descriptors that
 * `buf build` wrote, so strict clients such as grpcurl can describe every
 * method, well-known types included.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { createFileRegistry, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';
import { HealthImplementation } from 'grpc-health-check';
import { chatsService } from './api/chats';
import { streamsService } from './api/streams';
import { threadsService } from './api/threads';
import { makeContextOf } from './api/context';
import { makeUnary, tolerantDecoding } from './api/unary';
import type { KeyRing } from './auth/api-keys';
import type { Containers } from './core/containers';
import type { Throttle } from './core/throttle';
import { ChatsService } from './gen/chats/chats';
import { StreamsService } from './gen/streams/streams';
import { ThreadsService } from './gen/threads/threads';
import type { Logger } from './log';
import { loadDescriptorSet } from './descriptors';

export const SERVICE_NAMES = ['threads.Threads', 'chats.Chats', 'streams.Streams'] as const;

export interface ServerOptions {
  maxReceiveBytes: number;
  maxSendBytes: number;
  /** The API keys every call of the three services must present. */
  keys: KeyRing;
  /** The namespace rate limit; none when absent. */
  throttle?: Throttle;
}

export interface BuiltServer {
  server: Server;
  health: HealthImplementation;
}

export function buildServer(core: Containers, log: Logger, opts: ServerOptions): BuiltServer {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxReceiveBytes,
    'grpc.max_send_message_length': opts.maxSendBytes,
  });
  const unary = makeUnary(log, makeContextOf(opts.keys, log, opts.throttle));
  const descriptors = loadDescriptorSet();
  const registry = createFileRegistry(descriptors);
  server.addService(tolerantDecoding(ThreadsService, registry), threadsService(core, unary));
  server.addService(tolerantDecoding(ChatsService, registry), chatsService(core, unary));
  server.addService(tolerantDecoding(StreamsService, registry), streamsService(core, unary));

  const health = new HealthImplementation({ '': 'NOT_SERVING', ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, 'NOT_SERVING'])) });
  health.addToServer(server);
  reflectionFromDescriptors(descriptors).addToServer(server);
  return { server, health };
}

/**
 * @grpc/reflection reads `fileDescriptorProtos` from a package definition; we
 * hand it every file of the FileDescriptorSet as it is (real names, real
 * imports) instead of proto-loader's re-generated ones (grpc-node issue 2595).
 */
export function reflectionFromDescriptors(set: FileDescriptorSet): ReflectionService {
  const files = set.file.map((f) => toBinary(FileDescriptorProtoSchema, f));
  const definition = { all: { format: 'Protocol Buffer 3 FileDescriptorProto', fileDescriptorProtos: files } };
  return new ReflectionService(definition as never, { services: [...SERVICE_NAMES] });
}

export function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolvePort(port)));
  });
}
