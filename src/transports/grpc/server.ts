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
import { bindOperations } from './bind';

export const SERVICE_NAMES = ['threads.Threads', 'chats.Chats', 'streams.Streams'] as const;

export interface ServerOptions {
  maxReceiveBytes: number;
  maxSendBytes: number;
}

export interface BuiltServer {
  server: Server;
  health: HealthImplementation;
}

export function buildServer(calls: Calls, log: Logger, opts: ServerOptions): BuiltServer {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxReceiveBytes,
    'grpc.max_send_message_length': opts.maxSendBytes,
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

export function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolvePort(port)));
  });
}
