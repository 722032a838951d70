/**
 * The route table covers every method in the protos. The methods are found
 * here independently of the gateway's own walk: from the raw
 * FileDescriptorSet (file → service → method, no registry) and from the
 * generated grpc-js service definitions; each must have a route in the table
 * and must answer over HTTP as a route (never the unknown-path 404).
 */
import { readFileSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { ChatsService } from '../gen/chats/chats';
import { StreamsService } from '../gen/streams/streams';
import { ThreadsService } from '../gen/threads/threads';
import { DESCRIPTORS_PATH } from '../../src/descriptors';
import { useGatewayStack } from '../helpers/stack';

/** Every method of every service in the descriptor set: `{package}/{Service}/{Method}`. */
function methodsInDescriptors(): string[] {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTORS_PATH));
  const out: string[] = [];
  for (const file of set.file) {
    for (const svc of file.service) for (const m of svc.method) out.push(`/${file.package}/${svc.name}/${m.name}`);
  }
  return out;
}

/** The same from the generated code: `/threads.Threads/CreateThread` → `/threads/Threads/CreateThread`. */
function methodsInGeneratedCode(): string[] {
  return [ThreadsService, ChatsService, StreamsService].flatMap((svc) =>
    Object.values(svc).map((def) => {
      const [, full, method] = /^\/(.+)\/(\w+)$/.exec(def.path)!;
      const dot = full.lastIndexOf('.');
      return `/${full.slice(0, dot)}/${full.slice(dot + 1)}/${method}`;
    }),
  );
}

const stack = useGatewayStack();

describe('route table', () => {
  const fromDescriptors = methodsInDescriptors();

  it('finds the 19 m3o methods, DeleteChat, the three Subscribe streams, 3 × 5 lifecycle methods, 3 MarkRead, 3 GetUnread, ListChats, ReadChat and the 6 richer-thread methods (the walk itself works)', () => {
    expect(fromDescriptors).toHaveLength(52);
    expect(fromDescriptors).toEqual(expect.arrayContaining(['/threads/Threads/CreateMessage', '/chats/Chats/SendMessage', '/streams/Streams/ListMessages']));
    expect(new Set(methodsInGeneratedCode())).toEqual(new Set(fromDescriptors));
  });

  it('has a route for every method in the protos, and every Streams method under /protobuf/Streams too', () => {
    const missing = fromDescriptors.filter((p) => !stack.gw.gateway.routes.routes.has(p));
    expect(missing).toEqual([]);
    const streams = fromDescriptors.filter((p) => p.startsWith('/streams/Streams/'));
    const aliasMissing = streams.map((p) => p.replace('/streams/Streams/', '/protobuf/Streams/')).filter((p) => !stack.gw.gateway.routes.routes.has(p));
    expect(aliasMissing).toEqual([]);
    expect(stack.gw.gateway.routes.unserved).toEqual([]);
    // Nothing else: the table is exactly the methods plus the alias.
    expect(stack.gw.gateway.routes.routes.size).toBe(fromDescriptors.length + streams.length);
  });

  it('routes each path to the gRPC method of the same name', () => {
    for (const [path, route] of stack.gw.gateway.routes.routes) {
      const [, pkg, service, method] = path.split('/');
      const expectedPkg = pkg === 'protobuf' ? 'streams' : pkg;
      expect(route.grpcPath).toBe(`/${expectedPkg}.${service}/${method}`);
    }
  });

  it.each([...methodsInDescriptors(), ...methodsInDescriptors().filter((p) => p.startsWith('/streams/')).map((p) => p.replace('/streams/', '/protobuf/'))])(
    'POST %s reaches the service',
    async (path) => {
      const r = await stack.gw.post(path, {});
      // {} is a valid request for DeleteThread-like calls only in shape: every method answers 200 or its own 400.
      expect([200, 400]).toContain(r.status);
      if (r.status === 400) expect(r.body.id).toMatch(/^MISSING_/);
    },
  );
});
