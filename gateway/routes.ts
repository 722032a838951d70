/**
 * The route table, derived from the service definitions: every unary method
 * of every service in the FileDescriptorSet that `buf build` wrote becomes
 * `POST /{package}/{Service}/{Method}`, so a method added to a proto is served
 * without a gateway change. Aliases give a service a second prefix (m3o served
 * Streams under `/protobuf/Streams/{Method}`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileRegistry, fromBinary, type DescMessage, type DescMethod, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

/**
 * Where `npm run gen` writes the descriptors. From gateway/*.ts (tests) and
 * from dist/gateway/*.js (after `npm run build`, which copies the file to
 * dist/src/gen) the relative path is the same.
 */
export const DESCRIPTORS_PATH = join(__dirname, '..', 'src', 'gen', 'descriptors.binpb');

/** Second prefixes, by fully-qualified service name. */
export const ALIASES: Readonly<Record<string, readonly string[]>> = {
  'streams.Streams': ['/protobuf/Streams'],
};

export interface Route {
  /** The HTTP path, e.g. `/threads/Threads/CreateMessage`. */
  httpPath: string;
  /** The gRPC path, e.g. `/threads.Threads/CreateMessage`. */
  grpcPath: string;
  method: DescMethod;
  input: DescMessage;
  output: DescMessage;
}

export interface RouteTable {
  /** Exact (case-sensitive) HTTP path → route. */
  routes: ReadonlyMap<string, Route>;
  /** Methods the gateway cannot serve as a JSON POST yet (streaming), as gRPC paths. */
  unserved: readonly string[];
}

/** The registry of every message, enum and service in the descriptor set file. */
export function loadRegistry(path: string = DESCRIPTORS_PATH): FileRegistry {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(path)));
}

export function buildRoutes(registry: FileRegistry): RouteTable {
  const routes = new Map<string, Route>();
  const unserved: string[] = [];
  for (const desc of registry) {
    if (desc.kind !== 'service') continue;
    const pkg = desc.file.proto.package;
    const prefixes = [pkg ? `/${pkg}/${desc.name}` : `/${desc.name}`, ...(ALIASES[desc.typeName] ?? [])];
    for (const method of desc.methods) {
      const grpcPath = `/${desc.typeName}/${method.name}`;
      if (method.methodKind !== 'unary') {
        unserved.push(grpcPath);
        continue;
      }
      for (const prefix of prefixes) {
        const httpPath = `${prefix}/${method.name}`;
        if (routes.has(httpPath)) throw new Error(`Two methods map to ${httpPath}`);
        routes.set(httpPath, { httpPath, grpcPath, method, input: method.input, output: method.output });
      }
    }
  }
  return { routes, unserved };
}
