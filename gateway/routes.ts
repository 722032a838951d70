/**
 * The route table, derived from the service definitions: every unary method
 * of every service in the FileDescriptorSet that `buf build` wrote becomes
 * `POST /{package}/{Service}/{Method}` (a server stream: GET or POST, as SSE), so a method added to a proto is served
 * without a gateway change. Aliases give a service a second prefix (m3o served
 * Streams under `/protobuf/Streams/{Method}`).
 */
import type { DescMessage, DescMethod, FileRegistry } from '@bufbuild/protobuf';

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
  /** A server stream, served as Server-Sent Events to GET and POST (gateway/sse.ts). */
  stream: boolean;
}

export interface RouteTable {
  /** Exact (case-sensitive) HTTP path → route. */
  routes: ReadonlyMap<string, Route>;
  /** Methods the gateway cannot serve (client or bidirectional streams), as gRPC paths. */
  unserved: readonly string[];
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
      if (method.methodKind !== 'unary' && method.methodKind !== 'server_streaming') {
        unserved.push(grpcPath);
        continue;
      }
      for (const prefix of prefixes) {
        const httpPath = `${prefix}/${method.name}`;
        if (routes.has(httpPath)) throw new Error(`Two methods map to ${httpPath}`);
        routes.set(httpPath, { httpPath, grpcPath, method, input: method.input, output: method.output, stream: method.methodKind === 'server_streaming' });
      }
    }
  }
  return { routes, unserved };
}
