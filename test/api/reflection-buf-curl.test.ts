/**
 * Reflection as a real client uses it: `buf curl` (the project's own
 * @bufbuild/buf, no local .proto files) lists, describes and calls every
 * service the server answers, over loopback, against a test service.
 *
 * `buf curl` prints a failing call's details as base64: its error printer
 * (connect-go's) decodes only types compiled into the buf binary, and buf
 * carries google.rpc.Status but not ErrorInfo, whatever the server serves. So
 * the ErrorInfo is decoded the way any reflection-only client can: its
 * descriptors fetched from the server's reflection with `buf curl`, then
 * `buf convert` with nothing else.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create, createFileRegistry, fromBinary, toBinary, toJson, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { grpcServiceFiles } from '../../src/transports/grpc/server';
import { ROOT } from '../helpers/process';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, TEST_TOKEN, type TestService } from '../helpers/service';

const BUF = join(ROOT, 'node_modules', '.bin', 'buf');

let redis: TestRedis;
let svc: TestService;
let url: string;
let tmp: string;

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
  url = `http://${svc.address}`;
  tmp = mkdtempSync(join(tmpdir(), 'parley-bufcurl-'));
});
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs buf (asynchronously: the service answers from this same process). */
function buf(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(BUF, args, { timeout: 30_000, maxBuffer: 16 << 20, env: { ...process.env, BUF_CACHE_DIR: join(tmp, 'cache') } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** `buf curl` over plaintext HTTP/2 with the gRPC protocol, schema from the server's reflection only. */
const curl = (args: string[]) => buf(['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args]);

/** `buf curl` calling the reflection service itself: the files that declare `symbol`, with their imports. */
async function reflectedFiles(symbol: string): Promise<FileDescriptorProto[]> {
  const r = await curl(['-d', JSON.stringify({ file_containing_symbol: symbol }), `${url}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`]);
  expect(r).toMatchObject({ code: 0 });
  const reply = JSON.parse(r.stdout) as { fileDescriptorResponse?: { fileDescriptorProto: string[] }; errorResponse?: unknown };
  expect(reply.errorResponse).toBeUndefined();
  return reply.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, Buffer.from(b, 'base64')));
}

/** The files in import order; @bufbuild/protobuf's registry throws on a missing import or an unresolved type. */
function strictSet(files: FileDescriptorProto[]) {
  const byName = new Map(files.map((f) => [f.name, f]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (name: string) => {
    const f = byName.get(name);
    if (!f) throw new Error(`reflection did not return ${name}`);
    if (ordered.includes(f)) return;
    f.dependency.forEach(visit);
    ordered.push(f);
  };
  files.forEach((f) => visit(f.name));
  return create(FileDescriptorSetSchema, { file: ordered });
}
const registryOf = (files: FileDescriptorProto[]): FileRegistry => createFileRegistry(strictSet(files));

const SERVICES = [
  'threads.Threads',
  'chats.Chats',
  'streams.Streams',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

it('buf curl --list-services lists the three APIs, health and reflection', async () => {
  const r = await curl(['--list-services', url]);
  expect(r).toMatchObject({ code: 0 });
  expect(r.stdout.trim().split('\n').sort()).toEqual([...SERVICES].sort());
});

it('buf curl --list-methods lists every method, health and reflection included', async () => {
  const r = await curl(['--list-methods', url]);
  expect(r).toMatchObject({ code: 0 });
  expect(r.stdout.trim().split('\n')).toEqual(
    expect.arrayContaining([
      'threads.Threads/CreateThread',
      'chats.Chats/DeleteChat',
      'streams.Streams/ListMessages',
      'grpc.health.v1.Health/Check',
      'grpc.health.v1.Health/Watch',
      'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    ]),
  );
});

it('describes threads.Threads.CreateThread through reflection (buf curl on ServerReflectionInfo)', async () => {
  const registry = registryOf(await reflectedFiles('threads.Threads.CreateThread'));
  const method = registry.getService('threads.Threads')!.methods.find((m) => m.name === 'CreateThread')!;
  expect(method.methodKind).toBe('unary');
  expect(method.input.typeName).toBe('threads.CreateThreadRequest');
  expect(method.input.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['group_id', 'topic']));
  expect(method.output.field.thread.message?.typeName).toBe('threads.Thread');
});

it.each(SERVICES)('every method of %s resolves strictly from reflection', async (name) => {
  const service = registryOf(await reflectedFiles(name)).getService(name)!;
  expect(service.methods.length).toBeGreaterThan(0);
  for (const m of service.methods) expect(m.input.typeName && m.output.typeName).toBeTruthy();
});

it.each(['google.rpc.Status', 'google.rpc.ErrorInfo', 'google.rpc.RetryInfo'])('reflection serves %s with its imports', async (name) => {
  const registry = registryOf(await reflectedFiles(name));
  expect(registry.getMessage(name)).toBeDefined();
});

it('buf curl calls grpc.health.v1.Health/Check without a token', async () => {
  const all = await curl([`${url}/grpc.health.v1.Health/Check`]);
  expect(all).toMatchObject({ code: 0 });
  expect(JSON.parse(all.stdout)).toEqual({ status: 'SERVING' });
  const one = await curl(['-d', '{"service":"threads.Threads"}', `${url}/grpc.health.v1.Health/Check`]);
  expect(JSON.parse(one.stdout)).toEqual({ status: 'SERVING' });
});

it('buf curl calls threads.Threads/CreateThread with the bearer token', async () => {
  const r = await curl(['-H', `authorization: Bearer ${TEST_TOKEN}`, '-d', '{"group_id":"team-1","topic":"launch"}', `${url}/threads.Threads/CreateThread`]);
  expect(r).toMatchObject({ code: 0 });
  const { thread } = JSON.parse(r.stdout) as { thread: { id: string; groupId: string; topic: string; createdAt: string } };
  expect(thread).toMatchObject({ groupId: 'team-1', topic: 'launch' });
  expect(thread.id).toMatch(/./);
  expect(thread.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
});

it("a failing call's google.rpc.ErrorInfo decodes with the descriptors reflection serves", async () => {
  const r = await curl(['-H', `authorization: Bearer ${TEST_TOKEN}`, '-d', '{"topic":"launch"}', `${url}/threads.Threads/CreateThread`]);
  // buf curl exits with the gRPC code shifted left by three: INVALID_ARGUMENT (3) → 24.
  expect(r.code).toBe(3 << 3);
  const error = JSON.parse(r.stderr) as { code: string; message: string; details: { type: string; value: string; debug?: unknown }[] };
  expect(error.code).toBe('invalid_argument');
  expect(error.details).toHaveLength(1);
  expect(error.details[0].type).toBe('google.rpc.ErrorInfo');

  // What a reflection-only client does with it: fetch the type's file and decode.
  const set = strictSet(await reflectedFiles('google.rpc.ErrorInfo'));
  writeFileSync(join(tmp, 'errorinfo-schema.binpb'), toBinary(FileDescriptorSetSchema, set));
  writeFileSync(join(tmp, 'detail.binpb'), Buffer.from(error.details[0].value, 'base64'));
  const decoded = await buf([
    'convert',
    `${join(tmp, 'errorinfo-schema.binpb')}#format=binpb`,
    '--type',
    'google.rpc.ErrorInfo',
    '--from',
    `${join(tmp, 'detail.binpb')}#format=binpb`,
    '--to',
    '-#format=json',
  ]);
  expect(decoded).toMatchObject({ code: 0 });
  expect(JSON.parse(decoded.stdout)).toEqual({ reason: 'MISSING_GROUP_ID', domain: 'parley', metadata: { field: 'group_id' } });
});

it("health's and reflection's descriptors are what buf builds from the libraries' own .proto files", async () => {
  const reflectionProtos = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const built = async (args: string[]) => {
    const out = join(tmp, `built-${Math.random().toString(36).slice(2)}.binpb`);
    expect(await buf(['build', ...args, '--exclude-source-info', '-o', out])).toMatchObject({ code: 0 });
    return fromBinary(FileDescriptorSetSchema, readFileSync(out)).file;
  };
  const expected = [
    ...(await built([join(healthProtoPath, '..', '..', '..')])),
    ...(await built([reflectionProtos, '--path', join(reflectionProtos, 'grpc', 'reflection')])),
  ];
  // The same messages, fields, services and options; the file names are ours (buf's are relative to the
  // folder it was given), and json_name (protoc's default, which clients derive anyway) is left unset.
  const comparable = (f: FileDescriptorProto) => {
    const json = toJson(FileDescriptorProtoSchema, f) as Record<string, unknown>;
    delete json.name;
    return JSON.parse(JSON.stringify(json, (k, v: unknown) => (k === 'jsonName' ? undefined : v)));
  };
  const ours = grpcServiceFiles();
  expect(ours.map((f) => f.name)).toEqual(['grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto']);
  expect(ours.map(comparable)).toEqual(expected.map(comparable));
});
