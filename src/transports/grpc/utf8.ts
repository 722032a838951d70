/**
 * Strings in a gRPC request must be valid UTF-8 (proto3 says so); a decoder
 * that patched bad bytes with U+FFFD would store a different text than the
 * caller sent. @bufbuild/protobuf's `fromBinary` refuses them (proto3 strings
 * are validated); `invalidUtf8Field` then finds which field it was (failure
 * path only), walking the wire bytes with the request's descriptor.
 */
import { isUtf8 } from 'node:buffer';
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

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
