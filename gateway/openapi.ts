/**
 * The OpenAPI 3.1 document of the JSON API, built from the service
 * descriptors (the same ones the routes come from), so it describes exactly
 * what the gateway serves: every `POST /{package}/{Service}/{Method}` (and the
 * alias prefixes of routes.ts), request and response bodies in the proto3 JSON
 * mapping the gateway speaks (gateway/json.ts), the one error body
 * (gateway/errors.ts), bearer auth and the `micro-namespace` header.
 *
 * A pure function of the services: no I/O. Comments in the protos become
 * descriptions. A server-streaming method is described as a
 * `text/event-stream` response whose events carry the output message as JSON;
 * client- and bidi-streaming methods have no HTTP route and are left out.
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { STATUS_CODES } from 'node:http';
import { ERROR_IDS } from '../src/core/errors';
import { ALIASES } from './routes';

/** A JSON Schema / OpenAPI object: plain JSON. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

export interface OpenApiOptions {
  title?: string;
  version?: string;
  /** Second prefixes by fully-qualified service name; routes.ts's ALIASES by default. */
  aliases?: Readonly<Record<string, readonly string[]>>;
}

/** Where a message appears: only in requests, only in responses, or both. */
type Direction = 'in' | 'out' | 'both';

const INT64 = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64]);
const UINT64 = new Set([ScalarType.UINT64, ScalarType.FIXED64]);
const INT32 = new Set([ScalarType.INT32, ScalarType.SINT32, ScalarType.SFIXED32]);
const UINT32 = new Set([ScalarType.UINT32, ScalarType.FIXED32]);

/**
 * A scalar's proto3 JSON. 64-bit integers are decimal strings; a request may
 * also give them as JSON numbers (send strings above 2^53), a response never does.
 */
function scalarSchema(t: ScalarType, dir: Direction): Obj {
  const type64 = dir === 'out' ? 'string' : ['string', 'integer'];
  if (INT64.has(t)) return { type: type64, format: 'int64', pattern: '^-?(0|[1-9][0-9]*)$', description: 'int64 as a decimal string' };
  if (UINT64.has(t)) return { type: type64, format: 'uint64', pattern: '^(0|[1-9][0-9]*)$', description: 'uint64 as a decimal string' };
  if (INT32.has(t)) return { type: 'integer', format: 'int32' };
  if (UINT32.has(t)) return { type: 'integer', format: 'uint32', minimum: 0, maximum: 4294967295 };
  switch (t) {
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.STRING:
      return { type: 'string' };
    case ScalarType.BYTES:
      return { type: 'string', contentEncoding: 'base64' };
    case ScalarType.FLOAT:
      return { type: 'number', format: 'float' };
    case ScalarType.DOUBLE:
      return { type: 'number', format: 'double' };
  }
  return {};
}

/** The proto3 JSON forms of the well-known types (they are not objects on the wire). */
function wellKnownSchema(typeName: string): Obj | undefined {
  const nullable = (s: Obj): Obj => ({ ...s, type: [s.type as string, 'null'] });
  switch (typeName) {
    case 'google.protobuf.Timestamp':
      return { type: 'string', format: 'date-time', description: 'RFC 3339, e.g. "2026-01-02T15:04:05.123456789Z" (UTC in responses; any offset and up to nine fraction digits in requests)' };
    case 'google.protobuf.Duration':
      return { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]{1,9})?s$', description: 'seconds with an "s" suffix, e.g. "1.5s"' };
    case 'google.protobuf.StringValue':
      return nullable({ type: 'string', description: 'a plain string; null or absent means unset' });
    case 'google.protobuf.BytesValue':
      return nullable({ type: 'string', contentEncoding: 'base64' });
    case 'google.protobuf.BoolValue':
      return nullable({ type: 'boolean' });
    case 'google.protobuf.Int32Value':
      return nullable({ type: 'integer', format: 'int32', description: 'a plain number; null or absent means unset' });
    case 'google.protobuf.UInt32Value':
      return nullable({ type: 'integer', format: 'uint32', minimum: 0 });
    case 'google.protobuf.Int64Value':
      return nullable({ type: 'string', format: 'int64', pattern: '^-?(0|[1-9][0-9]*)$' });
    case 'google.protobuf.UInt64Value':
      return nullable({ type: 'string', format: 'uint64', pattern: '^(0|[1-9][0-9]*)$' });
    case 'google.protobuf.FloatValue':
    case 'google.protobuf.DoubleValue':
      return nullable({ type: 'number' });
    case 'google.protobuf.Empty':
      return { type: 'object' };
    case 'google.protobuf.Struct':
      return { type: 'object', additionalProperties: true };
    case 'google.protobuf.Value':
      return {};
    case 'google.protobuf.ListValue':
      return { type: 'array' };
    case 'google.protobuf.FieldMask':
      return { type: 'string', description: 'field paths in lowerCamelCase, comma-separated' };
    case 'google.protobuf.Any':
      return { type: 'object', properties: { '@type': { type: 'string' } }, required: ['@type'], additionalProperties: true };
  }
  return undefined;
}

/** The comment buf kept for a descriptor (source info path), trimmed; "" when there is none. */
function commentOf(desc: DescService | DescMethod | DescMessage | DescField | DescEnum): string {
  const path: number[] = [];
  switch (desc.kind) {
    case 'service':
      path.push(6, desc.file.services.indexOf(desc));
      break;
    case 'rpc':
      path.push(6, desc.parent.file.services.indexOf(desc.parent), 2, desc.parent.methods.indexOf(desc));
      break;
    case 'message':
    case 'enum':
      path.push(...declarationPath(desc));
      break;
    case 'field':
      path.push(...declarationPath(desc.parent), 2, desc.parent.proto.field.indexOf(desc.proto));
      break;
  }
  const file = desc.kind === 'field' ? desc.parent.file : desc.kind === 'rpc' ? desc.parent.file : desc.file;
  const loc = file.proto.sourceCodeInfo?.location.find((l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]));
  return (loc?.leadingComments ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

function declarationPath(desc: DescMessage | DescEnum): number[] {
  const isEnum = desc.kind === 'enum';
  if (desc.parent) return [...declarationPath(desc.parent), isEnum ? 4 : 3, isEnum ? desc.parent.nestedEnums.indexOf(desc) : desc.parent.nestedMessages.indexOf(desc as DescMessage)];
  return [isEnum ? 5 : 4, isEnum ? desc.file.enums.indexOf(desc) : desc.file.messages.indexOf(desc as DescMessage)];
}

function withDescription(schema: Obj, text: string): Obj {
  if (!text) return schema;
  const own = typeof schema.description === 'string' ? `${text} (${schema.description})` : text;
  return { ...schema, description: own };
}

function orNull(s: Obj): Obj {
  if (typeof s.type === 'string') return { ...s, type: [s.type, 'null'] };
  if (Array.isArray(s.type)) return s.type.includes('null') ? s : { ...s, type: [...s.type, 'null'] };
  return { anyOf: [s, { type: 'null' }] };
}

/** Component names: the fully-qualified proto names (`threads.CreateThreadRequest`). */
const ref = (typeName: string): Obj => ({ $ref: `#/components/schemas/${typeName}` });

/** Builds the `components.schemas` of every message reachable from the routes' inputs and outputs. */
class Schemas {
  readonly schemas: Obj = {};
  private readonly direction = new Map<string, Direction>();
  private readonly byName = new Map<string, DescMessage | DescEnum>();

  /** Marks a message and everything it reaches as used in requests (`in`) or responses (`out`). */
  use(desc: DescMessage, dir: 'in' | 'out'): void {
    if (wellKnownSchema(desc.typeName)) return;
    const seen = this.direction.get(desc.typeName);
    const next: Direction = seen === undefined ? dir : seen === dir ? dir : 'both';
    if (seen === next) return;
    this.direction.set(desc.typeName, next);
    this.byName.set(desc.typeName, desc);
    for (const f of desc.fields) {
      if (f.message) this.use(f.message, dir);
      if (f.enum) this.byName.set(f.enum.typeName, f.enum);
    }
  }

  /** Writes the schemas, sorted by name. */
  build(): Obj {
    for (const name of [...this.byName.keys()].sort()) {
      const desc = this.byName.get(name)!;
      this.schemas[name] = desc.kind === 'enum' ? this.enumSchema(desc) : this.messageSchema(desc, this.direction.get(name)!);
    }
    return this.schemas;
  }

  private enumSchema(desc: DescEnum): Obj {
    return withDescription({ type: 'string', enum: desc.values.map((v) => v.name) }, commentOf(desc));
  }

  /**
   * A message in proto3 JSON: snake_case property names (requests accept
   * lowerCamelCase too). Responses carry every field that is not in a oneof
   * (gateway/json.ts), so for a message only used in responses they are all
   * required; a message field or an optional scalar may be `null` (unset) both ways.
   */
  private messageSchema(desc: DescMessage, dir: Direction): Obj {
    const properties: Obj = {};
    const required: string[] = [];
    for (const f of desc.fields) {
      let s = this.fieldSchema(f, dir);
      // A field with presence: null in a request means unset, and a response writes an unset one as null.
      if (f.fieldKind === 'message' || (f.fieldKind === 'scalar' && f.proto.proto3Optional)) s = orNull(s);
      const notes = [commentOf(f)];
      if (f.oneof) notes.push(`One of ${f.oneof.fields.map((o) => o.name).join(', ')}.`);
      properties[f.name] = withDescription(s, notes.filter(Boolean).join(' '));
      if (dir === 'out' && !f.oneof) required.push(f.name);
    }
    const schema: Obj = { type: 'object', properties };
    if (required.length) schema.required = required;
    return withDescription(schema, commentOf(desc));
  }

  private fieldSchema(f: DescField, dir: Direction): Obj {
    switch (f.fieldKind) {
      case 'scalar':
        return scalarSchema(f.scalar, dir);
      case 'enum':
        return ref(f.enum.typeName);
      case 'message':
        return wellKnownSchema(f.message.typeName) ?? ref(f.message.typeName);
      case 'list':
        return {
          type: 'array',
          items: f.listKind === 'scalar' ? scalarSchema(f.scalar, dir) : f.listKind === 'enum' ? ref(f.enum.typeName) : (wellKnownSchema(f.message.typeName) ?? ref(f.message.typeName)),
        };
      case 'map':
        return {
          type: 'object',
          propertyNames: f.mapKey === ScalarType.STRING ? { type: 'string' } : { type: 'string', pattern: f.mapKey === ScalarType.BOOL ? '^(true|false)$' : '^-?[0-9]+$' },
          additionalProperties: f.mapKind === 'scalar' ? scalarSchema(f.scalar, dir) : f.mapKind === 'enum' ? ref(f.enum.typeName) : (wellKnownSchema(f.message.typeName) ?? ref(f.message.typeName)),
        };
    }
  }
}

/** The error answers an operation can give: status → what it means. */
const ERROR_RESPONSES: ReadonlyArray<[number, string]> = [
  [400, 'A missing field, a bad value, malformed JSON, a malformed header; `id` names the rule (e.g. MISSING_TEXT, INVALID_ARGUMENT, INVALID_CURSOR, INVALID_JSON)'],
  [401, 'No bearer token, or an unknown one (UNAUTHORIZED)'],
  [403, '`micro-namespace` is not the token\'s namespace (FORBIDDEN)'],
  [404, 'The thread, chat or conversation does not exist (NOT_FOUND)'],
  [413, 'The body is over the gateway\'s limit (PAYLOAD_TOO_LARGE)'],
  [415, 'A body charset or Content-Encoding the gateway does not decode (UNSUPPORTED_MEDIA_TYPE)'],
  [429, 'Rate limited (RATE_LIMITED); wait Retry-After seconds'],
  [500, 'Anything unexpected (INTERNAL); the detail is only "Internal error"'],
  [503, 'The service or its store cannot be reached, or it is shutting down (UNAVAILABLE); retry'],
  [504, 'The deadline passed (DEADLINE_EXCEEDED); a write may still have applied: retry with the same client id'],
];

const HEADER_PARAMETERS: Obj = {
  namespace: {
    name: 'micro-namespace',
    in: 'header',
    required: false,
    description: "The caller's namespace; when given it must be the token's (403 FORBIDDEN otherwise).",
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
  },
  requestId: {
    name: 'x-request-id',
    in: 'header',
    required: false,
    description: 'Echoed in the response and forwarded to the service; 1-128 visible ASCII characters, else a new UUID is used.',
    schema: { type: 'string', maxLength: 128 },
  },
  grpcTimeout: {
    name: 'grpc-timeout',
    in: 'header',
    required: false,
    description: "The call's deadline in gRPC's format: up to 8 digits and a unit (H, M, S, m, u, n), e.g. 500m or 2S; at most 5 minutes.",
    schema: { type: 'string', pattern: '^[0-9]{1,8}[HMSmun]$' },
  },
  timeoutMs: {
    name: 'x-timeout-ms',
    in: 'header',
    required: false,
    description: "The call's deadline in whole milliseconds (with grpc-timeout too, the shorter wins).",
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
};

/** The OpenAPI 3.1 document of the routes of `services` (unary: JSON; server-streaming: text/event-stream). */
export function openApiDocument(services: readonly DescService[], opts: OpenApiOptions = {}): Obj {
  const aliases = opts.aliases ?? ALIASES;
  const schemas = new Schemas();
  const paths: Obj = {};
  const tags: Json[] = [];

  for (const svc of services) {
    const pkg = svc.file.proto.package;
    const main = pkg ? `/${pkg}/${svc.name}` : `/${svc.name}`;
    const prefixes = [main, ...(aliases[svc.typeName] ?? [])];
    tags.push(withDescription({ name: svc.typeName }, commentOf(svc)));
    for (const method of svc.methods) {
      if (method.methodKind !== 'unary' && method.methodKind !== 'server_streaming') continue;
      schemas.use(method.input, 'in');
      schemas.use(method.output, 'out');
      for (const prefix of prefixes) {
        const alias = prefix !== main;
        paths[`${prefix}/${method.name}`] = { post: operation(svc, method, prefix, alias) };
      }
    }
  }

  tags.push({ name: 'health', description: 'Open without a token, like /openapi.json and /docs' });
  paths['/healthz'] = {
    get: {
      operationId: 'healthz',
      summary: 'Whether calls can be served now',
      tags: ['health'],
      security: [],
      responses: {
        '200': { description: 'Serving', content: { 'application/json': { schema: { type: 'object', properties: { status: { const: 'SERVING' } }, required: ['status'] } } } },
        '503': { $ref: '#/components/responses/503' },
      },
    },
  };

  const responses: Obj = {};
  for (const [status, meaning] of ERROR_RESPONSES) {
    const r: Obj = { description: `${STATUS_CODES[status]}: ${meaning}`, content: { 'application/json': { schema: ref('Error') } } };
    if (status === 429) r.headers = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } } };
    responses[String(status)] = r;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: opts.title ?? 'parley JSON API',
      version: opts.version ?? '0.0.0',
      description:
        'The Threads, Chats and Streams services (m3o-compatible) as JSON over HTTP: `POST /{package}/{Service}/{Method}` with a proto3 JSON body. ' +
        'Field names are snake_case in responses; requests accept snake_case or lowerCamelCase. int64 and uint64 are decimal strings, Timestamps RFC 3339 strings, wrappers plain values. ' +
        'Every call needs `authorization: Bearer <token>`. Generated from the service descriptors; docs/ in the repository explains each method.',
    },
    tags,
    paths,
    components: {
      schemas: {
        ...schemas.build(),
        Error: {
          type: 'object',
          description: 'The body of every error answer.',
          properties: {
            id: { type: 'string', enum: [...ERROR_IDS], description: "What to match on: the service's error id (its google.rpc.ErrorInfo.reason) or the gateway's own" },
            code: { type: 'integer', description: 'The HTTP status, repeated' },
            detail: { type: 'string', description: 'A human sentence naming the field at fault' },
            status: { type: 'string', description: 'The HTTP reason phrase, e.g. "Bad Request"' },
          },
          required: ['id', 'code', 'detail', 'status'],
          additionalProperties: false,
        },
      },
      responses,
      parameters: HEADER_PARAMETERS,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token of API_KEYS, or the one the service wrote to DATA_DIR/api-key' } },
    },
    security: [{ bearer: [] }],
  };
}

function operation(svc: DescService, method: DescMethod, prefix: string, alias: boolean): Obj {
  const streaming = method.methodKind === 'server_streaming';
  const summary = commentOf(method);
  const grpc = `${svc.typeName}/${method.name}`;
  const notes = [
    summary,
    `gRPC: \`${grpc}\`.`,
    alias ? `The same method as ${`/${svc.file.proto.package}/${svc.name}/${method.name}`}, under m3o's prefix ${prefix}.` : '',
    streaming ? 'A server stream: the answer is Server-Sent Events, each event\'s data one JSON object of the response schema.' : '',
  ];
  const ok: Obj = streaming
    ? {
        description: `A stream of ${method.output.typeName} events`,
        content: { 'text/event-stream': { schema: { type: 'string', description: `Server-Sent Events; each \`data:\` line is one ${method.output.typeName} in proto3 JSON` }, 'x-event-data': ref(method.output.typeName) } },
      }
    : { description: method.output.typeName, content: { 'application/json': { schema: ref(method.output.typeName) } } };
  const responses: Obj = { '200': ok };
  for (const [status] of ERROR_RESPONSES) responses[String(status)] = { $ref: `#/components/responses/${status}` };
  return {
    operationId: `${prefix.slice(1).replaceAll('/', '.')}.${method.name}`,
    summary: summary || method.name,
    description: notes.filter(Boolean).join('\n\n'),
    tags: [svc.typeName],
    parameters: Object.keys(HEADER_PARAMETERS).map((k) => ({ $ref: `#/components/parameters/${k}` })),
    requestBody: {
      required: false,
      description: 'proto3 JSON; an empty body means {}',
      content: { 'application/json': { schema: ref(method.input.typeName) } },
    },
    responses,
  };
}
