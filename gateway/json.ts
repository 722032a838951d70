/**
 * proto3 JSON both ways, with @bufbuild/protobuf and the real descriptors
 * (ts-proto's own JSON functions cannot accept both name styles, write empty
 * lists, or reject bad values).
 *
 * In: snake_case and lowerCamelCase names, int64 as a number or a string,
 * Timestamp as RFC 3339, wrappers as plain values, `null` as "unset". Fields
 * the descriptors do not know are ignored, as grpc-gateway's default
 * marshaler does (an m3o client that sends a field this service lacks keeps
 * working). A bad value is an error naming the field.
 *
 * Out: snake_case names, every field present: scalars and lists at their
 * defaults (`""`, `0`, `[]`), int64 as decimal strings, and a singular message
 * field that is unset (which this service's responses never leave) as `null`,
 * its proto3 JSON meaning.
 */
import {
  ScalarType,
  fromJson,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonReadOptions,
  type JsonValue,
  type Message,
} from '@bufbuild/protobuf';
import { AppError } from '../src/core/errors';

const READ: Partial<JsonReadOptions> = { ignoreUnknownFields: true };

/** A body the gateway cannot turn into a request message: 400, with the field named when there is one. */
function inputError(id: 'INVALID_JSON' | 'INVALID_STRING', detail: string, field?: string): AppError {
  return new AppError(id, detail, { field });
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Well-known types have their own JSON forms (a string, a plain value); they are leaves here. */
function isWellKnown(desc: DescMessage): boolean {
  return desc.typeName.startsWith('google.protobuf.');
}

/** The request message of a JSON body (an object; `undefined` means `{}`). */
export function requestFromJson(schema: DescMessage, body: unknown): Message {
  const json = body === undefined ? {} : body;
  if (!isObject(json)) {
    throw inputError('INVALID_JSON', `The request body must be a JSON object, not ${describe(json)}`);
  }
  // Unknown fields are dropped first, so nothing in them (lone surrogates, wrong types) can fail a
  // request. (Depth was bounded before parsing: gateway/depth.ts.)
  const known: JsonObject = {};
  for (const [key, value] of Object.entries(json)) {
    if (fieldOf(schema, key)) known[key] = value;
  }
  const bad = illFormedString(known, '');
  if (bad !== undefined) {
    throw inputError('INVALID_STRING', `Invalid string in ${bad}: not well-formed Unicode (a lone surrogate)`, bad);
  }
  const lenient = lenientValue(schema, known, '');
  if (lenient) throw inputError('INVALID_JSON', `Invalid value for ${lenient.field}: ${lenient.reason}`, lenient.field);
  try {
    return fromJson(schema, known, READ);
  } catch (e) {
    const at = locate(schema, known, '');
    if (at) throw inputError('INVALID_JSON', `Invalid value for ${at.field}: ${at.reason}`, at.field);
    throw inputError('INVALID_JSON', `Invalid request: ${reasonOf(e)}`);
  }
}

const INTEGER_SCALARS = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64, ScalarType.INT32, ScalarType.UINT32, ScalarType.SINT32, ScalarType.FIXED32, ScalarType.SFIXED32]);
const WRAPPED_INTEGERS = new Set(['google.protobuf.Int64Value', 'google.protobuf.UInt64Value', 'google.protobuf.Int32Value', 'google.protobuf.UInt32Value']);
/** An integer given as a string: decimal digits only (the library would also take "0x10", " 5", "+7"). */
const DECIMAL = /^-?(0|[1-9]\d*)$/;
/** RFC 3339 as proto3 JSON writes Timestamps; the calendar is checked below (the library rolls 2026-02-30 over). */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function realDate(v: string): boolean {
  const m = RFC3339.exec(v);
  if (!m) return true; // not this shape at all: the library's own error says so
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59;
}

/**
 * What proto3 JSON forbids but @bufbuild/protobuf lets through: integers as
 * strings that are not decimal, and dates that do not exist. The first such
 * value, with its field path.
 */
function lenientValue(desc: DescMessage, json: JsonObject, prefix: string): { field: string; reason: string } | undefined {
  for (const [key, value] of Object.entries(json)) {
    const f = fieldOf(desc, key);
    if (!f) continue;
    const name = prefix + f.name;
    const items = f.fieldKind === 'list' && Array.isArray(value) ? value : [value];
    for (const v of items) {
      if (typeof v !== 'string' && !isObject(v)) continue;
      const integer = (f.fieldKind === 'scalar' || f.fieldKind === 'list') && f.scalar !== undefined && INTEGER_SCALARS.has(f.scalar);
      const wrapped = f.message !== undefined && WRAPPED_INTEGERS.has(f.message.typeName);
      if ((integer || wrapped) && typeof v === 'string' && !DECIMAL.test(v)) {
        const type = wrapped ? f.message!.name.replace(/Value$/, '').toLowerCase() : ScalarType[f.scalar!].toLowerCase();
        return { field: name, reason: `expected an integer (${type}) as a number or a decimal string, got ${truncatedJson(v)}` };
      }
      if (f.message?.typeName === 'google.protobuf.Timestamp' && typeof v === 'string' && !realDate(v)) {
        return { field: name, reason: `expected an RFC 3339 string of a real date and time, got ${truncatedJson(v)}` };
      }
      if (f.message && !isWellKnown(f.message) && isObject(v)) {
        const inner = lenientValue(f.message, v, `${name}.`);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

/** The response body of a response message: snake_case, every field present. */
export function responseToJson(schema: DescMessage, message: Message): JsonObject {
  const json = toJson(schema, message as never, { useProtoFieldName: true, alwaysEmitImplicit: true }) as JsonObject;
  fillUnset(schema, json);
  return json;
}

function fillUnset(desc: DescMessage, json: JsonObject): void {
  for (const f of desc.fields) {
    // Of a oneof, only the member that is set is written.
    if (f.oneof) continue;
    if (!(f.name in json)) {
      json[f.name] = null;
      continue;
    }
    const v = json[f.name];
    if (f.message === undefined || isWellKnown(f.message)) continue;
    const items = f.fieldKind === 'message' ? [v] : f.fieldKind === 'list' && Array.isArray(v) ? v : f.fieldKind === 'map' && isObject(v) ? Object.values(v) : [];
    for (const item of items) if (isObject(item)) fillUnset(f.message, item);
  }
}

/** The path of the first string value that is not well-formed UTF-16, which no protobuf string can carry. */
function illFormedString(v: JsonValue | undefined, path: string): string | undefined {
  if (typeof v === 'string') return v.isWellFormed() ? undefined : path || '(body)';
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = illFormedString(v[i], `${path}[${i}]`);
      if (bad !== undefined) return bad;
    }
  } else if (isObject(v)) {
    for (const [k, item] of Object.entries(v)) {
      const bad = illFormedString(item, path ? `${path}.${k}` : k);
      if (bad !== undefined) return bad;
    }
  }
  return undefined;
}

function fieldOf(desc: DescMessage, key: string): DescField | undefined {
  return desc.fields.find((f) => f.name === key || f.jsonName === key);
}

/**
 * After fromJson failed: which field was it? Each known key is decoded on its
 * own; into nested messages (not well-known types) the search goes deeper, so
 * the answer is a path such as `messages[2].text`.
 */
function locate(desc: DescMessage, json: JsonObject, prefix: string): { field: string; reason: string } | undefined {
  const seen = new Map<DescField, string>();
  for (const [key, value] of Object.entries(json)) {
    const f = fieldOf(desc, key);
    if (!f) continue;
    const name = prefix + f.name;
    const other = seen.get(f);
    if (other !== undefined) return { field: name, reason: `given twice (as "${other}" and "${key}")` };
    seen.set(f, key);
    try {
      fromJson(desc, { [key]: value }, READ);
      continue;
    } catch (e) {
      const inner = f.message && !isWellKnown(f.message) ? locateInside(f, value, name) : undefined;
      if (inner) return inner;
      if (f.message?.typeName === 'google.protobuf.Timestamp' && f.fieldKind === 'message') {
        return { field: name, reason: `expected an RFC 3339 string such as "2026-01-02T15:04:05.123456789Z", got ${truncatedJson(value)}` };
      }
      return { field: name, reason: reasonOf(e) };
    }
  }
  return undefined;
}

function locateInside(f: DescField, value: JsonValue, name: string): { field: string; reason: string } | undefined {
  const m = f.message!;
  if (f.fieldKind === 'message' && isObject(value)) return locate(m, value, `${name}.`);
  if (f.fieldKind === 'list' && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (!isObject(item)) return { field: `${name}[${i}]`, reason: `expected an object, got ${describe(item)}` };
      const inner = locate(m, item, `${name}[${i}].`);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** The library's reason, without its "cannot decode field x.Y.z from JSON:" preamble, in words for JSON callers. */
function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const i = msg.lastIndexOf('from JSON: ');
  let reason = i >= 0 ? msg.slice(i + 'from JSON: '.length) : msg;
  reason = reason.replace(/expected bigint \((u?int64)\)/g, 'expected an integer ($1) as a number or a decimal string');
  // The library says "<value> out of range" also for values that are not numbers at all.
  reason = reason.replace(/^(expected [^:]+): (.*) out of range$/s, (_all, expected: string, value: string) =>
    /^-?\d/.test(value) ? `${expected}: ${value} is out of range` : `${expected}, got ${JSON.stringify(value)}`);
  return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
}

function truncatedJson(v: JsonValue): string {
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : typeof v;
}
