/**
 * The gRPC server: the operation table bound as the three services, standard
 * health checking (grpc.health.v1) and server reflection built from the real
 * descriptors that `buf build` wrote, plus health's and reflection's own, so
 * strict clients such as grpcurl and `buf curl` can list, describe and call
 * every service the server answers, well-known types and error details included.
 */
import { basename, dirname, join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type DescriptorProto, type FileDescriptorProto, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { loadDescriptorSet } from '../../descriptors';
import type { Logger } from '../../log';
import type { Calls } from '../../ops/calls';
import type { KeyRing } from '../../auth/api-keys';
import { bindOperations } from './bind';
import { admission, limitConnections, serverOptions, type GrpcLimits } from './guard';

export const SERVICE_NAMES = ['threads.Threads', 'chats.Chats', 'streams.Streams'] as const;

/** Every service the server answers, as reflection lists them: the three APIs, health and reflection (both versions). */
export const REFLECTED_SERVICE_NAMES = [
  ...SERVICE_NAMES,
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
] as const;

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
    interceptors: [admission(opts.keys, SERVICE_NAMES, opts.limits, log)],
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
 * imports) instead of proto-loader's re-generated ones (grpc-node issue 2595),
 * and health's and reflection's files (grpcServiceFiles) beside them.
 */
export function reflectionFromDescriptors(set: FileDescriptorSet): ReflectionService {
  const files = [...set.file, ...grpcServiceFiles()].map((f) => toBinary(FileDescriptorProtoSchema, f));
  const definition = { all: { format: 'Protocol Buffer 3 FileDescriptorProto', fileDescriptorProtos: files } };
  return new ReflectionService(definition as never, { services: [...REFLECTED_SERVICE_NAMES] });
}

/** The .proto files of the services the libraries add: grpc-health-check's health and @grpc/reflection's v1 and v1alpha. */
function grpcServiceProtoPaths(): string[] {
  const reflectionRoot = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  return [healthProtoPath, ...['v1', 'v1alpha'].map((v) => join(reflectionRoot, 'grpc', 'reflection', v, 'reflection.proto'))];
}

/**
 * health.proto and reflection.proto as descriptors, read from the files the
 * libraries serve them from (so reflection describes exactly what they answer).
 * They are kept out of descriptors.binpb on purpose: the gateway routes every
 * service in that set, and these two are gRPC-only. proto-loader (protobufjs)
 * writes each file under a made-up name, with type names relative to their
 * scope and map entries not named `<Field>Entry`; strict descriptor builders
 * (Go's protodesc in grpcurl and `buf curl`, @bufbuild/protobuf) want real
 * ones, so each is given its conventional path (package as folders + base
 * name), fully-qualified type names and conventional map entry names.
 */
export function grpcServiceFiles(): FileDescriptorProto[] {
  return grpcServiceProtoPaths().map((path) => {
    const definition = loadSync(path, { keepCase: true });
    const names = new Set<string>();
    const files: FileDescriptorProto[] = [];
    // Each message and enum of the package definition carries its file (a service does not).
    for (const d of Object.values(definition)) {
      for (const bin of (d as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
        const f = fromBinary(FileDescriptorProtoSchema, bin);
        if (names.has(f.name)) continue;
        names.add(f.name);
        files.push(f);
      }
    }
    // These files import nothing; one with imports would need its imports renamed too.
    if (files.length !== 1 || files[0].dependency.length > 0) throw new Error(`${path}: expected one file without imports, got ${[...names].join(', ')}`);
    const file = files[0];
    file.name = `${file.package.replace(/\./g, '/')}/${basename(path)}`;
    qualifyTypeNames(file);
    return file;
  });
}

/** protoc's name for the entry message of map field `name` (`statuses` → `StatusesEntry`). */
function mapEntryName(field: string): string {
  let name = '';
  let upper = true;
  for (const c of field) {
    if (c === '_') {
      upper = true;
    } else {
      name += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return `${name}Entry`;
}

/** Resolves every relative type name in `file` (protobuf scoping: innermost scope first) to `.full.name`; names map entries as protoc does. */
function qualifyTypeNames(file: FileDescriptorProto): void {
  const pkg = file.package ? `.${file.package}` : '';
  // Map entries first, so the names the fields resolve against are the final ones.
  const renameEntries = (m: DescriptorProto) => {
    for (const field of m.field) {
      const entry = m.nestedType.find((n) => n.options?.mapEntry && n.name === field.typeName);
      if (entry) field.typeName = entry.name = mapEntryName(field.name);
    }
    m.nestedType.forEach(renameEntries);
  };
  file.messageType.forEach(renameEntries);

  const known = new Set<string>();
  const index = (scope: string, m: DescriptorProto) => {
    const full = `${scope}.${m.name}`;
    known.add(full);
    m.enumType.forEach((e) => known.add(`${full}.${e.name}`));
    m.nestedType.forEach((n) => index(full, n));
  };
  file.messageType.forEach((m) => index(pkg, m));
  file.enumType.forEach((e) => known.add(`${pkg}.${e.name}`));

  const resolve = (scope: string, name: string): string => {
    if (name.startsWith('.')) return name;
    for (let s = scope; ; s = s.slice(0, s.lastIndexOf('.'))) {
      if (known.has(`${s}.${name}`)) return `${s}.${name}`;
      if (s === '') throw new Error(`${file.name}: cannot resolve type ${name} from ${scope}`);
    }
  };
  const visit = (scope: string, m: DescriptorProto) => {
    const full = `${scope}.${m.name}`;
    for (const field of m.field) if (field.typeName) field.typeName = resolve(full, field.typeName);
    m.nestedType.forEach((n) => visit(full, n));
  };
  file.messageType.forEach((m) => visit(pkg, m));
  for (const service of file.service) {
    for (const method of service.method) {
      method.inputType = resolve(pkg, method.inputType);
      method.outputType = resolve(pkg, method.outputType);
    }
  }
}

/** Listens on `address` with at most `maxConnections` open connections; resolves with the port. */
export async function bind(server: Server, address: string, maxConnections: number): Promise<number> {
  const port = await new Promise<number>((resolvePort, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolvePort(p)));
  });
  limitConnections(server, maxConnections);
  return port;
}
