/**
 * The JSON mapping on its own, checked against the other runtime: what the
 * gateway encodes is decoded with the service's ts-proto code (forceLong=string),
 * and what the service encodes is what the gateway writes. Exactness of int64
 * above 2^53 and of Timestamp nanoseconds is the point.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ListMessagesResponse as ChatsListMessagesResponse } from '../gen/chats/chats';
import { ListMessagesRequest as StreamsListMessagesRequest } from '../gen/streams/streams';
import { ListMessagesRequest as ThreadsListMessagesRequest } from '../gen/threads/threads';
import { requestFromJson, responseToJson } from '../../gateway/json';
import { AppError } from '../../src/core/errors';
import { loadRegistry } from '../../src/descriptors';

const registry = loadRegistry();
const schema = (name: string) => registry.getMessage(name)!;
const encode = (name: string, json: unknown) => toBinary(schema(name), requestFromJson(schema(name), json) as never);

describe('requests: JSON in → binary the service decodes', () => {
  it('int64 as a string above 2^53 arrives exact; as a number or a negative string too', () => {
    const big = ThreadsListMessagesRequest.decode(encode('threads.ListMessagesRequest', { limit: '9223372036854775807', offset: '9007199254740993' }));
    expect(big).toMatchObject({ limit: '9223372036854775807', offset: '9007199254740993' });
    expect(ThreadsListMessagesRequest.decode(encode('threads.ListMessagesRequest', { limit: 5, offset: '-3' }))).toMatchObject({ limit: '5', offset: '-3' });
  });

  it('snake_case and lowerCamelCase give the same message', () => {
    const a = ThreadsListMessagesRequest.decode(encode('threads.ListMessagesRequest', { thread_id: 't', limit: 2 }));
    const b = ThreadsListMessagesRequest.decode(encode('threads.ListMessagesRequest', { threadId: 't', limit: 2 }));
    expect(a).toEqual(b);
    expect(a.threadId).toBe('t');
  });

  it('Timestamp from RFC 3339 keeps nanoseconds; offsets are converted to UTC; wrappers are plain values', () => {
    const m = StreamsListMessagesRequest.decode(encode('streams.ListMessagesRequest', { sent_before: '2026-01-02T03:04:05.123456789Z', limit: 7 }));
    expect(m.sentBefore).toEqual({ seconds: String(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000), nanos: 123456789 });
    expect(m.limit).toBe(7);
    const off = StreamsListMessagesRequest.decode(encode('streams.ListMessagesRequest', { sentBefore: '2026-01-02T05:04:05.5+02:00' }));
    expect(off.sentBefore).toEqual({ seconds: String(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000), nanos: 500_000_000 });
    // null leaves a wrapper unset, unlike 0.
    expect(StreamsListMessagesRequest.decode(encode('streams.ListMessagesRequest', { limit: null })).limit).toBeUndefined();
    expect(StreamsListMessagesRequest.decode(encode('streams.ListMessagesRequest', { limit: 0 })).limit).toBe(0);
  });

  it.each(['0x10', '0b11', ' 5', '+7', '5 ', '007', '1_000', ''])('refuses the integer string %j (proto3 JSON: decimal only), naming the field', (v) => {
    const threw = (() => {
      try {
        requestFromJson(schema('threads.ListMessagesRequest'), { thread_id: 't', limit: v });
      } catch (e) {
        return e as AppError;
      }
      return undefined;
    })();
    expect(threw).toMatchObject({ id: 'INVALID_JSON', field: 'limit' });
    expect(() => requestFromJson(schema('streams.ListMessagesRequest'), { limit: v })).toThrow(/limit/);
    expect(() => requestFromJson(schema('chats.ListMessagesRequest'), { offset: v })).toThrow(/offset/);
  });

  it.each(['2026-02-30T00:00:00Z', '2025-02-29T12:00:00Z', '2026-04-31T10:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T10:60:00Z', '2026-01-01T10:00:60Z', '2026-00-10T00:00:00Z'])(
    'refuses the impossible date %s instead of rolling it over',
    (v) => {
      expect(() => requestFromJson(schema('streams.ListMessagesRequest'), { sent_before: v })).toThrow(/sent_before/);
    },
  );

  it('takes real dates, leap days included', () => {
    const m = StreamsListMessagesRequest.decode(encode('streams.ListMessagesRequest', { sent_before: '2024-02-29T23:59:59.999999999Z' }));
    expect(m.sentBefore).toEqual({ seconds: String(Date.UTC(2024, 1, 29, 23, 59, 59) / 1000), nanos: 999_999_999 });
  });

  it('refuses what is not an object, naming what it got', () => {
    expect(() => requestFromJson(schema('threads.ListMessagesRequest'), [])).toThrow(AppError);
    expect(() => requestFromJson(schema('threads.ListMessagesRequest'), 'x')).toThrow('not a string');
    expect(requestFromJson(schema('threads.ListMessagesRequest'), undefined)).toBeDefined();
  });
});

describe('responses: binary from the service → JSON out', () => {
  it('int64 nanoseconds and uint64 seq are exact decimal strings; every field is written', () => {
    const bytes = ChatsListMessagesResponse.encode({
      nextCursor: '',
      prevCursor: '',
      hasMore: false,
      feedCursor: '',
      messages: [{ id: 'm', authorId: 'a', chatId: 'c', text: '', sentAt: '1795452858654288001', seq: '18446744073709551615', metadata: {}, editedAt: '0', deletedAt: '0' }],
    }).finish();
    const json = responseToJson(schema('chats.ListMessagesResponse'), fromBinary(schema('chats.ListMessagesResponse'), bytes));
    expect(JSON.stringify(json)).toBe(
      '{"messages":[{"id":"m","author_id":"a","chat_id":"c","text":"","sent_at":"1795452858654288001","seq":"18446744073709551615","metadata":{},"edited_at":"0","deleted_at":"0"}],"next_cursor":"","prev_cursor":"","has_more":false,"feed_cursor":""}',
    );
  });

  it('an empty list is []', () => {
    const json = responseToJson(schema('threads.ListThreadsResponse'), fromBinary(schema('threads.ListThreadsResponse'), new Uint8Array()));
    expect(json).toEqual({ threads: [], next_cursor: '', prev_cursor: '', has_more: false });
  });
});
