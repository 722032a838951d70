/**
 * The gRPC server: the operation table bound as the three services, standard
 * health checking (grpc.health.v1) and server reflection built from the real
 * descriptors that `buf build` wrote, so strict clients such as grpcurl can
 * describe every method, well-known types included.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';
import { HealthImplementation } from 'grpc-health-check';
import { loadDescriptorSet } from '../../descriptors';
import type { Logger } from '../../log';
import type { Calls } from '../../ops/calls';
import type { KeyRing } from '../../auth/api-keys';
import { bindOperations } from './bind';
import { admission, limitConnections, serverOptions, type GrpcLimits } from './guard';

export const SERVICE_NAMES = ['threads.Threads', 'chats.Chats', 'streams.Streams'] as const;

export interface ServerOptions {
  maxReceiveBytes: number;
  maxSendBytes: number;
  /** The keys calls are admitted with, checked on the metadata before the message is read. */
  keys: KeyRing;
  limits: GrpcLimits;
}

export interface BuiltServer {
  server: Server;
  health: HealthImplementation;
}

export function buildServer(calls: Calls, log: Logger, opts: ServerOptions): BuiltServer {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxReceiveBytes,
    'grpc.max_send_message_length': opts.maxSendBytes,
    ...serverOptions(opts.limits),
    interceptors: [admission(opts.keys, SERVICE_NAMES, opts.limits.requestTimeoutMs, log)],
  });
  bindOperations(server, calls, log);
  const health = new HealthImplementation({ '': 'NOT_SERVING', ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, 'NOT_SERVING'])) });
  health.addToServer(server);
  reflectionFromDescriptors(loadDescriptorSet()).addToServer(server);
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

/** Listens on `address` with at most `maxConnections` open connections; resolves with the port. */
export async function bind(server: Server, address: string, maxConnections: number): Promise<number> {
  const port = await new Promise<number>((resolvePort, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolvePort(p)));
  });
  limitConnections(server, maxConnections);
  return port;
}
