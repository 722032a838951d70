/**
 * Server reflection as a strict client (grpcurl) uses it: ask for the file of
 * a symbol, fetch every import by file name, and resolve the whole set with
 * @bufbuild/protobuf, which fails on any missing file or unresolved type.
 */
import { join } from 'node:path';
import { credentials, loadPackageDefinition, makeGenericClientConstructor, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { create, fromBinary } from '@bufbuild/protobuf';
import { createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { service as healthService } from 'grpc-health-check';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
let reflection: Client & { ServerReflectionInfo(): ClientDuplexStream<object, ReflectionResponse> };

interface ReflectionResponse {
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  listServicesResponse?: { service: { name: string }[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
  const proto = join(require.resolve('@grpc/reflection/package.json'), '..', 'build/proto/grpc/reflection/v1/reflection.proto');
  const pkg = loadPackageDefinition(loadSync(proto, { keepCase: false, longs: String })) as never as {
    grpc: { reflection: { v1: { ServerReflection: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => typeof reflection } } };
  };
  reflection = new pkg.grpc.reflection.v1.ServerReflection(svc.address, credentials.createInsecure());
});
afterAll(async () => {
  reflection?.close();
  await svc?.stop();
  await redis?.stop();
});

function ask(req: object): Promise<ReflectionResponse> {
  return new Promise((res, rej) => {
    const stream = reflection.ServerReflectionInfo();
    stream.on('data', (r: ReflectionResponse) => {
      res(r);
      stream.end();
    });
    stream.on('error', rej);
    stream.write(req);
  });
}

/** What grpcurl does for `describe <symbol>`: the symbol's file and, transitively, each import by name. */
async function resolveStrictly(symbol: string) {
  const files = new Map<string, ReturnType<typeof fromBinary<typeof FileDescriptorProtoSchema>>>();
  const add = (r: ReflectionResponse) => {
    if (r.errorResponse) throw new Error(`reflection error: ${r.errorResponse.errorMessage}`);
    for (const b of r.fileDescriptorResponse!.fileDescriptorProto) {
      const f = fromBinary(FileDescriptorProtoSchema, b);
      files.set(f.name, f);
    }
  };
  add(await ask({ fileContainingSymbol: symbol }));
  for (let pending = true; pending; ) {
    pending = false;
    for (const f of [...files.values()]) {
      for (const dep of f.dependency) {
        if (!files.has(dep)) {
          add(await ask({ fileByFilename: dep }));
          pending = true;
        }
      }
    }
  }
  // The registry wants each file after its imports; a missing import throws.
  const ordered: (typeof files extends Map<string, infer F> ? F : never)[] = [];
  const visit = (name: string) => {
    const f = files.get(name);
    if (!f) throw new Error(`reflection never returned ${name}`);
    if (ordered.includes(f)) return;
    f.dependency.forEach(visit);
    ordered.push(f);
  };
  [...files.keys()].forEach(visit);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

it('lists the three services, health and reflection', async () => {
  const r = await ask({ listServices: '' });
  const names = r.listServicesResponse!.service.map((s) => s.name);
  expect(names).toEqual(expect.arrayContaining(['threads.Threads', 'chats.Chats', 'streams.Streams']));
});

it.each(['streams.Streams', 'threads.Threads', 'chats.Chats'])('a strict client can describe every method of %s', async (name) => {
  const registry = await resolveStrictly(name);
  const service = registry.getService(name)!;
  expect(service.methods.length).toBeGreaterThanOrEqual(3);
  for (const m of service.methods) expect(m.input.fields.length + m.output.fields.length).toBeGreaterThan(0);
});

it('describes Streams.ListMessages with its Timestamp and Int32Value fields resolved', async () => {
  const registry = await resolveStrictly('streams.Streams.ListMessages');
  const req = registry.getMessage('streams.ListMessagesRequest')!;
  expect(req.field.sentBefore.message?.typeName).toBe('google.protobuf.Timestamp');
  expect(req.field.limit.message?.typeName).toBe('google.protobuf.Int32Value');
  expect(registry.getMessage('streams.Message')!.field.sentAt.message?.typeName).toBe('google.protobuf.Timestamp');
});

it('health answers SERVING for the server and each service', async () => {
  const Health = makeGenericClientConstructor(healthService, 'Health');
  const health = new Health(svc.address, credentials.createInsecure()) as unknown as Client & {
    check(req: { service: string }, cb: (err: Error | null, res: { status: string | number }) => void): void;
  };
  const check = (service: string) =>
    new Promise<string | number>((res, rej) => health.check({ service }, (err, r) => (err ? rej(err) : res(r.status))));
  for (const s of ['', 'threads.Threads', 'chats.Chats', 'streams.Streams']) expect(await check(s)).toBe('SERVING');
  health.close();
});
