/**
 * A large page's texts stay bytes (src/core/text-bytes.ts): the store finds a
 * text inside its record's bytes, and the gRPC encoder writes a reply in
 * pieces around them. Both must give exactly what the ordinary path gives, for
 * any record the scripts may write: new ones (`s`, `a`, `t`, `m` in order) and
 * ones a script re-encoded (keys in any order, "/" escaped as cjson does),
 * texts and ids with quotes, backslashes, control and multi-byte characters,
 * metadata with a key "t", tombstones and purged messages.
 */
import fc from 'fast-check';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { textBytesOf } from '../../src/core/text-bytes';
import { ListMessagesResponseSchema, MessageSchema } from '../../src/gen/threads/threads_pb';
import { messageReply, threadsApi } from '../../src/ops/apis';
import { decodeMessage, decodeMessageBytes } from '../../src/store/record';
import { replyEncoder, type Encoded } from '../../src/transports/grpc/encode';

/** The message as grpc-js frames it: its length plus 5 bytes allocated, the result copied in after the 5 (ServerInterceptingCall.serializeMessage). */
function framed(e: Encoded): Buffer {
  const frame = Buffer.alloc(e.byteLength + 5, 0xee);
  e.copy(frame, 5);
  return frame.subarray(5);
}

const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 40 }), fc.constantFrom('', '"', '\\', 't', '"t":"x"', '}{,'));
const nanos = fc.bigInt({ min: 10n ** 18n, max: 2n * 10n ** 18n }).map(String);

const stored = fc.record(
  {
    a: text,
    t: text,
    m: fc.dictionary(fc.constantFrom('t', 'a', 's', '"', 'k/'), text, { maxKeys: 3 }),
    e: nanos,
    d: nanos,
    p: fc.constant(1),
  },
  { requiredKeys: ['a'] },
);

/** A record as a script writes it: `s` first, the rest in the given order, "/" escaped or not. */
const record = fc.tuple(nanos, stored, fc.boolean(), fc.boolean()).map(([s, r, shuffle, cjson]) => {
  const keys = Object.keys(r);
  if (shuffle) keys.reverse();
  const rest = JSON.stringify(Object.fromEntries(keys.map((k) => [k, r[k as keyof typeof r]])));
  const body = `{"s":"${s}"${rest === '{}' ? '' : ',' + rest.slice(1, -1)}}`;
  return cjson ? body.replace(/\//g, '\\/') : body;
});

it('a record decoded from its bytes is the record decoded from its string, and a text without escapes stays bytes', () => {
  fc.assert(
    fc.property(record, (rec) => {
      const plain = decodeMessage('c', 'id', 7, rec);
      const fromBytes = decodeMessageBytes('c', 'id', 7, Buffer.from(rec));
      expect({ ...fromBytes }).toEqual(plain);
      const t = (JSON.parse(rec) as { t?: string; d?: string }).t;
      const escaped = t !== undefined && JSON.stringify(t).slice(1, -1) !== t;
      const rawSlash = rec.includes('\\/');
      expect(textBytesOf(fromBytes) !== undefined).toBe(plain.deletedAt === '' && t !== undefined && !escaped && !(rawSlash && t.includes('/')));
    }),
    { numRuns: 2000 },
  );
});

it('a reply whose texts are bytes encodes to the bytes of the same reply with strings', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(record, fc.boolean()), { maxLength: 8 }), fc.string(), (recs, next) => {
      const messages = recs.map(([rec, asBytes], i) =>
        asBytes ? decodeMessageBytes('c', `m${i}`, i + 1, Buffer.from(rec)) : decodeMessage('c', `m${i}`, i + 1, rec),
      );
      const reply = create(ListMessagesResponseSchema, { messages: messages.map((m) => messageReply(threadsApi, m)), nextCursor: next });
      const plain = create(ListMessagesResponseSchema, {
        messages: messages.map((m) => create(MessageSchema, { ...messageReply(threadsApi, { ...m }) })),
        nextCursor: next,
      });
      const encoded = framed(replyEncoder(ListMessagesResponseSchema)(reply));
      expect(fromBinary(ListMessagesResponseSchema, encoded)).toEqual(fromBinary(ListMessagesResponseSchema, toBinary(ListMessagesResponseSchema, plain)));
    }),
    { numRuns: 500 },
  );
});
