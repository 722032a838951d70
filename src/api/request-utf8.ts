/**
 * Strings in a gRPC request must be valid UTF-8 (proto3 says so). The
 * generated decoders substitute U+FFFD for bad bytes without a word, which
 * would store a different text than the caller sent; the gateway refuses such
 * bodies, so the gRPC path must too. `strictReader` makes a decode throw on
 * them; `invalidUtf8Field` then finds which field it was (failure path only),
 * walking the wire bytes with the request's descriptor.
 */
import { isUtf8 } from 'node:buffer';
import { ScalarType, type DescField, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const strictUtf8 = (bytes: Uint8Array) => fatal.decode(bytes);

export class InvalidUtf8 extends Error {}

/**
 * A reader for ts-proto's `decode(input: BinaryReader | Uint8Array)` whose
 * strings throw InvalidUtf8 instead of being patched with U+FFFD.
 */
export function strictReader(bytes: Uint8Array): BinaryReader {
  return new BinaryReader(bytes, (b) => {
    try {
      return strictUtf8(b);
    } catch {
      throw new InvalidUtf8();
    }
  });
}

/** The input message of a method path such as `/threads.Threads/CreateMessage`. */
export function requestType(registry: FileRegistry, path: string): DescMessage | undefined {
  const [, service, method] = path.split('/');
  return registry.getService(service)?.methods.find((m) => m.name === method)?.input;
}

/** The wire name (`thread_id`, `group_id.value`) of the first string field holding invalid UTF-8. */
export function invalidUtf8Field(bytes: Uint8Array, desc: DescMessage, prefix = ''): string | undefined {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wireType] = r.tag();
    const field = desc.fields.find((f) => f.number === no);
    if (!field || wireType !== WireType.LengthDelimited) {
      r.skip(wireType, no);
      continue;
    }
    const data = r.bytes();
    const name = prefix + field.name;
    if (isStringField(field) && !isUtf8(data)) return name;
    const inner = messageOf(field);
    if (inner) {
      const found = invalidUtf8Field(data, inner, `${name}.`);
      if (found) return found;
    }
  }
  return undefined;
}

function isStringField(f: DescField): boolean {
  return (f.fieldKind === 'scalar' || (f.fieldKind === 'list' && f.listKind === 'scalar')) && f.scalar === ScalarType.STRING;
}

function messageOf(f: DescField): DescMessage | undefined {
  if (f.fieldKind === 'message') return f.message;
  if (f.fieldKind === 'list' && f.listKind === 'message') return f.message;
  return undefined;
}
