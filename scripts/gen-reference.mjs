// Writes docs/reference.md, the method and field reference of the three services, from the
// descriptors `npm run gen` wrote (src/gen/descriptors.binpb, with the protos' comments) and the
// compiled defaults (dist/src/core/limits.js). Run after `make build`: `make docs` (or
// `node scripts/gen-reference.mjs`). With --check it writes nothing and exits 1 when the file on
// disk differs (test/docs/reference.test.ts runs that, so the file cannot drift from the protos).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary, ScalarType } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'docs', 'reference.md');
const require = createRequire(import.meta.url);
const { defaultLimits, DEFAULT_PAGE_SIZE } = require(join(ROOT, 'dist', 'src', 'core', 'limits.js'));
const { ALIASES } = require(join(ROOT, 'dist', 'gateway', 'routes.js'));

// What this project adds to m3o's APIs, as the README states it ("The three APIs", "Paging with
// cursors"); every other method and field is m3o's.
const LIFECYCLE = ['UpdateMessage', 'DeleteMessage', 'RestoreMessage', 'PurgeMessage', 'ReadMessage'];
const ADDED_METHODS = new Set([
  'chats.Chats.DeleteChat',
  'chats.Chats.ListChats',
  'chats.Chats.ReadChat',
  ...['threads.Threads', 'chats.Chats', 'streams.Streams'].flatMap((s) => ['Subscribe', 'MarkRead', 'GetUnread', ...LIFECYCLE].map((m) => `${s}.${m}`)),
]);
const ADDED_FIELDS = new Set([
  'threads.Message.seq', 'chats.Message.seq', 'streams.Message.seq',
  'threads.ListThreadsRequest.limit', 'threads.ListThreadsRequest.offset', 'threads.ListThreadsRequest.order',
  'streams.ListConversationsRequest.limit', 'streams.ListConversationsRequest.offset', 'streams.ListConversationsRequest.order',
  'streams.ListMessagesRequest.order', 'streams.CreateMessageRequest.id',
]);
const ADDED_FIELD_NAMES = new Set(['after', 'before', 'next_cursor', 'prev_cursor', 'has_more', 'feed_cursor', 'metadata', 'edited_at', 'deleted_at', 'include_deleted',
  'last_message_at', 'message_count', 'updated_at', 'unread_count', 'last_message', 'user_id', 'message_id', 'order_by']);
const isAddedMessage = (typeName) =>
  typeName.startsWith('chats.DeleteChat') || /\.(SubscribeRequest|Event|(Update|Delete|Restore|Purge|Read)Message(Request|Response)|MarkRead(Request|Response)|GetUnread(Request|Response)|UnreadCount|ListChats(Request|Response)|ReadChat(Request|Response))$/.test(typeName);
const added = (f) => ADDED_FIELDS.has(`${f.parent.typeName}.${f.name}`) || ADDED_FIELD_NAMES.has(f.name) || isAddedMessage(f.parent.typeName);

// The size and range rules of src/core (README, "Limits"), by request field name, with today's defaults.
function limitOf(f) {
  const L = defaultLimits;
  const n = f.name;
  if (n === 'text') return `at most ${L.MAX_TEXT_BYTES} bytes (\`MAX_TEXT_BYTES\`)`;
  if (n === 'topic') return `at most ${L.MAX_TOPIC_BYTES} bytes (\`MAX_TOPIC_BYTES\`)`;
  if (n.endsWith('_ids')) return `at most ${L.MAX_IDS_PER_CALL} ids (\`MAX_IDS_PER_CALL\`), each at most ${L.MAX_ID_BYTES} bytes`;
  if (n === 'id' || n.endsWith('_id')) return `at most ${L.MAX_ID_BYTES} bytes (\`MAX_ID_BYTES\`)`;
  if (n === 'limit') return `0 or unset: ${DEFAULT_PAGE_SIZE}; at most ${L.MAX_PAGE_SIZE} (\`MAX_PAGE_SIZE\`)`;
  if (n === 'offset') return `at most ${L.MAX_OFFSET} (\`MAX_OFFSET\`); not with a cursor`;
  if (n.startsWith('limit_per_')) return `0 or unset: ${DEFAULT_PAGE_SIZE}; at most ${L.MAX_RECENT_PER_CONTAINER} (\`MAX_RECENT_PER_CONTAINER\`)`;
  if (n === 'order') return '`"asc"`; `""` or `"desc"`: newest first; else `INVALID_ARGUMENT`';
  if (n === 'metadata') return `at most ${L.MAX_METADATA_KEYS} keys (\`MAX_METADATA_KEYS\`) of at most ${L.MAX_METADATA_KEY_BYTES} bytes (\`MAX_METADATA_KEY_BYTES\`), ${L.MAX_METADATA_BYTES} bytes in all (\`MAX_METADATA_BYTES\`), as the map would be after a merge`;
  if (n === 'order_by') return '`""`/`"created_at"` or `"last_message_at"`; else `INVALID_ARGUMENT`';
  if (n === 'include_deleted') return '`""`/`"false"`, `"true"` or `"only"`; else `INVALID_ARGUMENT`';
  if (n === 'after' && f.parent.name === 'SubscribeRequest') return 'feed cursors, at most one per container (`INVALID_CURSOR` when not a feed cursor of one of them)';
  if (n === 'after' || n === 'before') return 'a cursor of this list; at most one of the two (`INVALID_CURSOR` when not this list\'s)';
  return '';
}

const WKT = {
  'google.protobuf.Timestamp': 'string (RFC 3339)',
  'google.protobuf.StringValue': 'string or null',
  'google.protobuf.Int32Value': 'number or null',
};

function jsonType(f) {
  const scalar = (t) => {
    switch (t) {
      case ScalarType.INT64: case ScalarType.SINT64: case ScalarType.SFIXED64: return 'string (int64)';
      case ScalarType.UINT64: case ScalarType.FIXED64: return 'string (uint64)';
      case ScalarType.BOOL: return 'boolean';
      case ScalarType.STRING: return 'string';
      case ScalarType.BYTES: return 'string (base64)';
      case ScalarType.FLOAT: case ScalarType.DOUBLE: return 'number';
      default: return 'number (int32)';
    }
  };
  const message = (m) => WKT[m.typeName] ?? `[${m.typeName}](#${anchor(m.typeName)})`;
  switch (f.fieldKind) {
    case 'scalar': return scalar(f.scalar);
    case 'enum': return `string (${f.enum.typeName})`;
    case 'message': return message(f.message);
    case 'list': return `array of ${f.listKind === 'scalar' ? scalar(f.scalar) : f.listKind === 'enum' ? f.enum.typeName : message(f.message)}`;
    case 'map': return 'object';
  }
}

const anchor = (typeName) => typeName.toLowerCase().replace(/[^a-z0-9]+/g, '-');

// Comments from the source info buf kept (path numbers of descriptor.proto).
function comment(file, path) {
  const loc = file.proto.sourceCodeInfo?.location.find((l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]));
  return (loc?.leadingComments ?? '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}
const messagePath = (m) => (m.parent ? [...messagePath(m.parent), 3, m.parent.nestedMessages.indexOf(m)] : [4, m.file.messages.indexOf(m)]);
const fieldComment = (f) => comment(f.parent.file, [...messagePath(f.parent), 2, f.parent.proto.field.indexOf(f.proto)]);
const esc = (s) => s.replaceAll('|', '\\|');

function fieldTable(m, request) {
  if (m.fields.length === 0) return ['No fields: `{}`.', ''];
  const rows = [request ? '| field | JSON type | # | since | limits, defaults | notes |' : '| field | JSON type | # | since | notes |', request ? '| --- | --- | --- | --- | --- | --- |' : '| --- | --- | --- | --- | --- |'];
  for (const f of m.fields) {
    const cells = [`\`${f.name}\``, jsonType(f), String(f.number), added(f) ? 'added' : 'm3o'];
    if (request) cells.push(limitOf(f));
    cells.push(fieldComment(f));
    rows.push(`| ${cells.map(esc).join(' | ')} |`);
  }
  return [...rows, ''];
}

export function render(registry) {
  const services = [...registry].filter((d) => d.kind === 'service');
  const out = [
    '<!-- Generated by scripts/gen-reference.mjs from the protos (src/gen/descriptors.binpb) and src/core/limits.ts. Do not edit: `make docs` rewrites it; test/docs/reference.test.ts fails when it is out of date. -->',
    '',
    '# Methods and fields',
    '',
    'Every method of the three services with its gRPC name and JSON route, and every field of its request and',
    'response: the proto3 JSON type (what the JSON routes, `buf curl` and grpcurl read and write), the field',
    'number, whether m3o had it or this project added it, and the limits and defaults of request fields at',
    'their default settings. What each method does, its errors and the paging rules are in',
    '[api.md](api.md); this file is generated from the protos.',
    '',
    'JSON names: responses use the proto names below (`group_id`); requests accept them or lowerCamelCase',
    '(`groupId`), and gRPC JSON clients such as `buf curl` print lowerCamelCase.',
    '',
  ];
  out.push('| service | methods |', '| --- | --- |');
  for (const s of services) out.push(`| [${s.typeName}](#${anchor(s.typeName)}) | ${s.methods.map((m) => `[${m.name}](#${anchor(`${s.typeName}.${m.name}`)})`).join(', ')} |`);
  out.push('');
  const types = new Map();
  for (const s of services) {
    const pkg = s.file.proto.package;
    out.push(`## ${s.typeName}`, '', `<a id="${anchor(s.typeName)}"></a>`, '');
    const head = comment(s.file, [2]); // the comment above `package`
    if (head) out.push(head, '');
    for (const [i, m] of s.methods.entries()) {
      const full = `${s.typeName}.${m.name}`;
      const routes = [`/${pkg}/${s.name}`, ...(ALIASES[s.typeName] ?? [])].map((p) => `\`POST ${p}/${m.name}\``).join(' or ');
      out.push(`### ${s.name}.${m.name}`, '', `<a id="${anchor(full)}"></a>`, '');
      const c = comment(s.file, [6, s.file.services.indexOf(s), 2, i]);
      if (c) out.push(c, '');
      out.push(`- gRPC: \`${s.typeName}/${m.name}\` (${m.methodKind === 'unary' ? 'unary' : m.methodKind.replace('_', '-')})`);
      out.push(m.methodKind === 'unary' ? `- JSON: ${routes}` : m.methodKind === 'server_streaming' ? `- HTTP: ${routes}, answered as Server-Sent Events` : '- no HTTP route');
      out.push(`- since: ${ADDED_METHODS.has(full) ? 'added by this project' : 'm3o'}`, '');
      out.push(`Request \`${m.input.typeName}\`:`, '', ...fieldTable(m.input, true));
      out.push(`Response \`${m.output.typeName}\`:`, '', ...fieldTable(m.output, false));
      for (const f of m.output.fields) {
        const t = f.message ?? undefined;
        if (t && !WKT[t.typeName]) types.set(t.typeName, t);
      }
    }
  }
  out.push('## Types in responses', '');
  for (const t of [...types.values()].sort((a, b) => a.typeName.localeCompare(b.typeName))) {
    out.push(`### ${t.typeName}`, '', `<a id="${anchor(t.typeName)}"></a>`, '');
    const c = comment(t.file, messagePath(t));
    if (c) out.push(c, '');
    out.push(...fieldTable(t, false));
  }
  return out.join('\n').replace(/\n+$/, '\n');
}

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(join(ROOT, 'src', 'gen', 'descriptors.binpb'))));
const text = render(registry);
if (process.argv.includes('--check')) {
  let old = '';
  try {
    old = readFileSync(OUT, 'utf8');
  } catch {
    // missing: out of date
  }
  if (old !== text) {
    console.error('docs/reference.md is out of date with the protos: run `make docs` and commit it');
    process.exit(1);
  }
  console.log('docs/reference.md is up to date');
} else {
  writeFileSync(OUT, text);
  console.log('wrote docs/reference.md');
}
