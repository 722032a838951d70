/**
 * What the benchmark sends, and replies of the same shape for the fixed-answer
 * floors. Shared by the runner and the baseline servers so both sides agree.
 */
import type { Message as WireMessage } from '../../test/gen/threads/threads';

/** The stored text of every benchmark message: 100 bytes of ASCII. */
export const TEXT = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. Sphinx of qua!';
export const AUTHOR = 'bench-author-1';
export const CHAT_USERS = ['bench-user-ana', 'bench-user-bob'];
/** ListMessages page (the API's default page size). */
export const LIST_LIMIT = 25;
/** RecentMessages: threads asked for, and messages per thread. */
export const RECENT_THREADS = 10;
export const RECENT_PER_THREAD = 10;

if (Buffer.byteLength(TEXT) !== 100) throw new Error(`TEXT must be 100 bytes, is ${Buffer.byteLength(TEXT)}`);

/** A plausible stored message: a UUID id, RFC 3339 time with nanoseconds, a 6-digit seq. */
export function fakeMessage(threadId: string, seq: number): WireMessage {
  return {
    id: '6f1c2a3e-8b4d-4c5e-9f60-7a8b9c0d1e2f',
    authorId: AUTHOR,
    threadId,
    text: TEXT,
    sentAt: '2026-11-23T16:40:01.123456789Z',
    seq: String(seq),
    metadata: {},
    editedAt: '',
    deletedAt: '',
  };
}

/** The JSON the gateway writes for a message (proto3 JSON, proto field names, int64 as string). */
export function messageJson(m: WireMessage): Record<string, unknown> {
  return { id: m.id, author_id: m.authorId, thread_id: m.threadId, text: m.text, sent_at: m.sentAt, seq: m.seq };
}

export const FAKE_THREAD_ID = '0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f';
export const FAKE_CHAT = { id: '1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a', userIds: [...CHAT_USERS], createdAt: '1763916001123456789', metadata: {}, lastMessageAt: '0', messageCount: '0', updatedAt: '1763916001123456789', unreadCount: '0', lastMessage: undefined };

/** The request bodies, as JSON (gateway) — the gRPC requests are the same fields. */
export interface Fixture {
  createThreadId: string;
  listThreadId: string;
  recentThreadIds: string[];
}

export function jsonBodies(f: Fixture): Record<Method, string> {
  return {
    CreateMessage: JSON.stringify({ thread_id: f.createThreadId, author_id: AUTHOR, text: TEXT }),
    ListMessages: JSON.stringify({ thread_id: f.listThreadId, limit: LIST_LIMIT }),
    RecentMessages: JSON.stringify({ thread_ids: f.recentThreadIds, limit_per_thread: RECENT_PER_THREAD }),
    CreateChat: JSON.stringify({ user_ids: CHAT_USERS }),
  };
}

export type Method = 'CreateMessage' | 'ListMessages' | 'RecentMessages' | 'CreateChat';
export const METHODS: Method[] = ['CreateMessage', 'ListMessages', 'RecentMessages', 'CreateChat'];

/** gRPC path and gateway path of each method. */
export const PATHS: Record<Method, { grpc: string; http: string }> = {
  CreateMessage: { grpc: '/threads.Threads/CreateMessage', http: '/threads/Threads/CreateMessage' },
  ListMessages: { grpc: '/threads.Threads/ListMessages', http: '/threads/Threads/ListMessages' },
  RecentMessages: { grpc: '/threads.Threads/RecentMessages', http: '/threads/Threads/RecentMessages' },
  CreateChat: { grpc: '/chats.Chats/CreateChat', http: '/chats/Chats/CreateChat' },
};
