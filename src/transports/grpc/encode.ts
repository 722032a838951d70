/**
 * A unary reply's bytes. A reply whose list elements carry their text as bytes
 * (a large page, core/text-bytes.ts) is written in pieces: the reply without
 * that list, then each element without its text followed by the text field
 * copied from the stored bytes. Protobuf allows a message's fields in any
 * order and appends repeated fields across pieces, so a reader decodes the same
 * message as if it were encoded in one go (test/props/text-bytes.test.ts); no
 * text is turned into a string and back. Anything else is encoded as usual.
 *
 * The pieces are not joined here: grpc-js frames a reply by allocating its
 * length plus 5 bytes and calling the serializer's result's `copy` into it
 * (ServerInterceptingCall.serializeMessage reads only `byteLength` and
 * `copy`), so `Pieces` copies each piece straight into that frame. A 4 MiB
 * page is then copied once, not twice, and allocates 4 MiB less, which is
 * what drives the collections every other call waits out (README,
 * "Fairness"). grpc-js is pinned; a version that used the result otherwise
 * would fail every large page in test/api/reply-size.test.ts.
 */
import { create, toBinary, ScalarType, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { textBytesOf } from '../../core/text-bytes';

type ListField = DescField & { fieldKind: 'list'; listKind: 'message' };

/** A list of messages with a string field `text`, and that field: only such lists can carry bytes. */
interface TextList {
  list: ListField;
  text: DescField;
}

/** An encoded reply in pieces, with the part of Buffer's interface grpc-js uses on a serializer's result. */
export class Pieces {
  readonly byteLength: number;

  constructor(private readonly pieces: Uint8Array[]) {
    let n = 0;
    for (const p of pieces) n += p.length;
    this.byteLength = n;
  }

  /** Writes every piece into `target` from `offset`, as Buffer#copy does with a whole source. */
  copy(target: Uint8Array, offset = 0): number {
    let at = offset;
    for (const p of this.pieces) {
      target.set(p, at);
      at += p.length;
    }
    return this.byteLength;
  }
}

/** Bytes ready for grpc-js: a Buffer, or Pieces that it copies into its frame. */
export type Encoded = Buffer | Pieces;

export const isEncoded = (m: unknown): m is Encoded => Buffer.isBuffer(m) || m instanceof Pieces;

/** The encoder for replies of type `output`. */
export function replyEncoder(output: DescMessage): (m: Message) => Encoded {
  const lists: TextList[] = [];
  for (const f of output.fields) {
    if (f.fieldKind !== 'list' || f.listKind !== 'message') continue;
    const text = f.message.fields.find((t) => t.localName === 'text' && t.fieldKind === 'scalar' && t.scalar === ScalarType.STRING);
    if (text) lists.push({ list: f as ListField, text });
  }
  return (m) => {
    const bytes = lists.length > 0 ? withTextBytes(output, lists, m) : undefined;
    if (bytes) return bytes;
    const u8 = toBinary(output, m);
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  };
}

/** The reply in pieces, or undefined when none of its list elements carries text bytes. */
function withTextBytes(output: DescMessage, lists: TextList[], m: Message): Pieces | undefined {
  const reply = m as unknown as Record<string, object[]>;
  const carrying = lists.filter(({ list }) => reply[list.localName].some((e) => textBytesOf(e) !== undefined));
  if (carrying.length === 0) return undefined;
  const rest: Record<string, unknown> = { ...reply };
  for (const { list } of carrying) rest[list.localName] = [];
  const pieces: Uint8Array[] = [toBinary(output, create(output, rest))];
  for (const { list, text } of carrying) for (const e of reply[list.localName]) pieces.push(...element(list, text, e));
  return new Pieces(pieces);
}

/** One list element as its field: tag, length, the element without its text, then the text's field. */
function element(list: ListField, text: DescField, e: object): Uint8Array[] {
  const bytes = textBytesOf(e);
  if (!bytes) return [new BinaryWriter().tag(list.number, WireType.LengthDelimited).bytes(toBinary(list.message, e as Message)).finish()];
  // A copy of the element's fields without the text (the element's `text` decodes when read).
  const copy: Record<string, unknown> = { $typeName: list.message.typeName };
  for (const f of list.message.members) copy[f.localName] = f === text ? '' : (e as Record<string, unknown>)[f.localName];
  const body = toBinary(list.message, copy as unknown as Message);
  const textHead = new BinaryWriter().tag(text.number, WireType.LengthDelimited).uint32(bytes.length).finish();
  const head = new BinaryWriter()
    .tag(list.number, WireType.LengthDelimited)
    .uint32(body.length + textHead.length + bytes.length)
    .finish();
  return [head, body, textHead, bytes];
}
