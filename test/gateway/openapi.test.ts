/**
 * GET /openapi.json: an OpenAPI 3.1 document a validator accepts
 * (@seriousme/openapi-schema-validator's own CLI), open without a token,
 * naming every route the gateway serves, and whose schemas hold what the
 * gateway really answers: real responses and error bodies are validated
 * against them with Ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect). The
 * document's function is also given a service with a server-streaming method,
 * which must come out as text/event-stream.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { create, createFileRegistry, fromBinary, toJson, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, TimestampSchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { DESCRIPTORS_PATH, loadRegistry } from '../../src/descriptors';
import { openApiDocument } from '../../gateway/openapi';
import { call } from '../helpers/gateway';
import { ROOT } from '../helpers/process';
import { useGatewayStack } from '../helpers/stack';

const VALIDATE_API = join(ROOT, 'node_modules', '.bin', 'validate-api');

const stack = useGatewayStack();
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let doc: any;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'parley-openapi-'));
  const a = await call(stack.gw.url, '/openapi.json', undefined, { method: 'GET' });
  expect(a.status).toBe(200);
  doc = a.body;
});
afterAll(() => tmp && rmSync(tmp, { recursive: true, force: true }));

/** The validator's CLI on a document: its exit code and output. */
function validateApi(document: unknown): Promise<{ code: number; out: string }> {
  const file = join(tmp, `doc-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(document));
  return new Promise((resolve) =>
    execFile(VALIDATE_API, [file], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr }),
    ),
  );
}

/** Ajv over the document's schemas; `schemaOf('threads.Thread')` validates one value. */
function ajvOf(document: { components: { schemas: object } }) {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true, keywords: ['x-event-data'] });
  addFormats(ajv);
  ajv.addFormat('uint32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff });
  ajv.addFormat('uint64', /^(0|[1-9][0-9]*)$/);
  // Refs in the document point at #/components/schemas/…: the same schemas as $defs of one schema.
  const defs = JSON.parse(JSON.stringify(document.components.schemas).replaceAll('#/components/schemas/', 'api#/$defs/'));
  ajv.addSchema({ $id: 'api', $defs: defs });
  return (name: string) => {
    const v = ajv.getSchema(`api#/$defs/${name}`);
    if (!v) throw new Error(`no schema ${name}`);
    return (value: unknown) => (v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
  };
}

/** Every method in the raw descriptor set (no registry), as `/{package}/{Service}/{Method}`. */
function methodsInDescriptors(): string[] {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTORS_PATH));
  return set.file.flatMap((f) => f.service.flatMap((s) => s.method.map((m) => `/${f.package}/${s.name}/${m.name}`)));
}

it('is served without a token, as JSON, and is OpenAPI 3.1 by the validator', async () => {
  const a = await call(stack.gw.url, '/openapi.json', undefined, { method: 'GET' });
  expect(a.status).toBe(200);
  expect(a.headers.get('content-type')).toMatch(/^application\/json/);
  expect(doc.openapi).toBe('3.1.0');
  expect(await validateApi(doc)).toEqual({ code: 0, out: expect.stringContaining('"valid": true') });
  // The validator does refuse a broken one (a path item with an operation that has no responses object).
  const broken = { ...doc, paths: { '/x': { post: { responses: 'none' } } } };
  expect((await validateApi(broken)).code).not.toBe(0);
});

it('lists every route the gateway serves, POST, plus GET /healthz, and every method of the protos', () => {
  const paths = Object.keys(doc.paths).sort();
  expect(paths).toEqual([...stack.gw.gateway.routes.routes.keys(), '/healthz'].sort());
  expect(paths).toEqual(expect.arrayContaining(methodsInDescriptors()));
  expect(paths).toContain('/threads/Threads/CreateThread');
  for (const p of paths.filter((x) => x !== '/healthz')) expect(Object.keys(doc.paths[p])).toEqual(['post']);
});

it('describes bearer auth, the micro-namespace header and the error body', () => {
  expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
  expect(doc.security).toEqual([{ bearer: [] }]);
  expect(doc.paths['/healthz'].get.security).toEqual([]);
  const op = doc.paths['/chats/Chats/SendMessage'].post;
  const params = op.parameters.map((p: { $ref: string }) => doc.components.parameters[p.$ref.split('/').pop()!]);
  expect(params).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'micro-namespace', in: 'header' })]));
  expect(op.responses['400']).toEqual({ $ref: '#/components/responses/400' });
  expect(doc.components.responses['400'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
  expect(doc.components.responses['429'].headers['Retry-After']).toBeDefined();
  expect(doc.components.schemas.Error.required.sort()).toEqual(['code', 'detail', 'id', 'status']);
});

it('real answers of the three services match their response schemas; int64, uint64 and Timestamps as strings', async () => {
  const schema = ajvOf(doc);
  const post = async (path: string, body: object) => {
    const input = doc.paths[path].post.requestBody.content['application/json'].schema.$ref.split('/').pop();
    expect({ path, problems: schema(input)(body) }).toEqual({ path, problems: [] });
    const a = await stack.gw.post(path, body);
    expect(a.status).toBe(200);
    const output = doc.paths[path].post.responses['200'].content['application/json'].schema.$ref.split('/').pop();
    expect({ path, problems: schema(output)(a.body) }).toEqual({ path, problems: [] });
    return a.body;
  };

  const { thread } = await post('/threads/Threads/CreateThread', { group_id: 'oa', topic: 'schemas' });
  const { message } = await post('/threads/Threads/CreateMessage', { thread_id: thread.id, author_id: 'ana', text: 'hi' });
  expect(typeof message.seq).toBe('string');
  await post('/threads/Threads/ReadThread', { id: thread.id });
  await post('/threads/Threads/UpdateThread', { id: thread.id, topic: 'renamed' });
  await post('/threads/Threads/ListMessages', { thread_id: thread.id, limit: '10', order: 'asc' });
  await post('/threads/Threads/ListThreads', { group_id: 'oa' });
  await post('/threads/Threads/RecentMessages', { thread_ids: [thread.id], limit_per_thread: 5 });
  await post('/threads/Threads/DeleteThread', { id: thread.id });

  const { chat } = await post('/chats/Chats/CreateChat', { user_ids: ['bob', 'ana'] });
  expect(typeof chat.created_at).toBe('string');
  await post('/chats/Chats/SendMessage', { chat_id: chat.id, author_id: 'ana', text: 'hi' });
  await post('/chats/Chats/ListMessages', { chat_id: chat.id, limit: '10' });
  await post('/chats/Chats/DeleteChat', { id: chat.id });

  const { conversation } = await post('/protobuf/Streams/CreateConversation', { group_id: 'oa', topic: 'ops' });
  const sent = await post('/streams/Streams/CreateMessage', { conversation_id: conversation.id, author_id: 'ana', text: 'on it' });
  await post('/streams/Streams/ReadConversation', { id: conversation.id, group_id: 'oa' });
  await post('/streams/Streams/ListMessages', { conversation_id: conversation.id, sent_before: new Date(Date.now() + 60_000).toISOString(), limit: 20 });
  await post('/streams/Streams/ListMessages', { conversation_id: conversation.id, sent_before: null });
  await post('/streams/Streams/RecentMessages', { conversation_ids: [conversation.id], limit_per_conversation: 1 });
  await post('/streams/Streams/ListConversations', { group_id: 'oa' });

  // The schema is not a formality: the wrong JSON forms are refused.
  expect(schema('threads.Message')({ ...message, seq: 1 })).not.toEqual([]);
  expect(schema('streams.Message')({ ...sent.message, sent_at: 1795452859 })).not.toEqual([]);
  expect(schema('chats.Chat')({ ...chat, created_at: Number(chat.created_at) })).not.toEqual([]);
});

it('every error the routes answer matches the Error schema (empty bodies, no token, unknown ids)', async () => {
  const error = ajvOf(doc)('Error');
  const answers = [];
  for (const path of Object.keys(doc.paths).filter((p) => p !== '/healthz')) answers.push(await stack.gw.post(path, {}));
  answers.push(await call(stack.gw.url, '/threads/Threads/ReadThread', { id: 'x' }));
  answers.push(await stack.gw.post('/threads/Threads/ReadThread', { id: 'no-such-thread' }));
  const errors = answers.filter((a) => a.status !== 200);
  expect(errors.length).toBeGreaterThan(10);
  expect(new Set(errors.map((a) => a.status))).toEqual(new Set([400, 401, 404]));
  for (const a of errors) {
    expect(doc.paths['/threads/Threads/ReadThread'].post.responses[String(a.status)]).toBeDefined();
    expect({ body: a.body, problems: error(a.body) }).toEqual({ body: a.body, problems: [] });
  }
});

it('a server-streaming method is a text/event-stream answer; the proto3 JSON of every field kind matches its schema', async () => {
  // A service the protos do not have yet, built from a descriptor: a unary and a server-streaming method.
  const wkt = loadRegistry();
  const file = create(FileDescriptorProtoSchema, {
    name: 'feed/feed.proto',
    package: 'feed',
    syntax: 'proto3',
    dependency: ['google/protobuf/timestamp.proto', 'google/protobuf/wrappers.proto'],
    messageType: [
      {
        name: 'Event',
        field: [
          { name: 'seq', number: 1, type: 4 /* uint64 */, label: 1, jsonName: 'seq' },
          { name: 'at_ns', number: 2, type: 3 /* int64 */, label: 1, jsonName: 'atNs' },
          { name: 'at', number: 3, type: 11, typeName: '.google.protobuf.Timestamp', label: 1, jsonName: 'at' },
          { name: 'note', number: 4, type: 11, typeName: '.google.protobuf.StringValue', label: 1, jsonName: 'note' },
          { name: 'tags', number: 5, type: 9, label: 3, jsonName: 'tags' },
          { name: 'kind', number: 6, type: 14, typeName: '.feed.Kind', label: 1, jsonName: 'kind' },
          { name: 'text', number: 7, type: 9, label: 1, oneofIndex: 0, jsonName: 'text' },
          { name: 'count', number: 8, type: 5, label: 1, oneofIndex: 0, jsonName: 'count' },
          { name: 'blob', number: 9, type: 12, label: 1, jsonName: 'blob' },
        ],
        oneofDecl: [{ name: 'body' }],
      },
      { name: 'SubscribeRequest', field: [{ name: 'after', number: 1, type: 9, label: 1, jsonName: 'after' }] },
    ],
    enumType: [{ name: 'Kind', value: [{ name: 'KIND_UNSPECIFIED', number: 0 }, { name: 'KIND_MESSAGE', number: 1 }] }],
    service: [
      {
        name: 'Feed',
        method: [
          { name: 'Subscribe', inputType: '.feed.SubscribeRequest', outputType: '.feed.Event', serverStreaming: true },
          { name: 'Last', inputType: '.feed.SubscribeRequest', outputType: '.feed.Event' },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) => wkt.getFile(name));
  const svc = registry.getService('feed.Feed') as DescService;
  const feedDoc = openApiDocument([svc]);
  expect(await validateApi(feedDoc)).toEqual({ code: 0, out: expect.stringContaining('"valid": true') });

  const sub = feedDoc.paths as Record<string, { post: { responses: Record<string, { content: Record<string, unknown> }> } }>;
  expect(Object.keys(sub['/feed/Feed/Subscribe'].post.responses['200'].content)).toEqual(['text/event-stream']);
  expect(Object.keys(sub['/feed/Feed/Last'].post.responses['200'].content)).toEqual(['application/json']);

  // What the gateway writes for such a message (json.ts: proto names, every implicit field) fits the schema.
  const event = create(registry.getMessage('feed.Event')!, {});
  const filled = {
    ...(toJson(registry.getMessage('feed.Event')!, event, { useProtoFieldName: true, alwaysEmitImplicit: true }) as object),
    seq: '18446744073709551615',
    at_ns: '-1795452858654288000',
    at: toJson(TimestampSchema, timestampFromDate(new Date())),
    note: 'n',
    tags: ['a'],
    kind: 'KIND_MESSAGE',
    text: 't',
    blob: 'AAE=',
  };
  const schema = ajvOf(feedDoc as { components: { schemas: object } });
  expect(schema('feed.Event')(filled)).toEqual([]);
  expect(schema('feed.Event')({ ...filled, note: null })).toEqual([]);
  expect(schema('feed.Event')({ ...filled, seq: 1 })).not.toEqual([]);
  expect(schema('feed.Event')({ ...filled, kind: 'KIND_OTHER' })).not.toEqual([]);
});

it('only GET and HEAD: another method on /openapi.json is 405 with Allow', async () => {
  const a = await call(stack.gw.url, '/openapi.json', {}, { method: 'POST' });
  expect(a.status).toBe(405);
  expect(a.headers.get('allow')).toBe('GET, HEAD');
  expect(a.body).toMatchObject({ id: 'METHOD_NOT_ALLOWED', code: 405 });
});
