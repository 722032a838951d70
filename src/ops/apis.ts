/**
 * What differs between the three APIs, as data: their container's name and
 * id field, the ids of their MISSING_* errors, their time type, and which
 * operation serves each method. Everything else is written once
 * (`./shared.ts`).
 */
import { create, type DescMessage, type DescService } from '@bufbuild/protobuf';
import type { ErrorId } from '../core/errors';
import type { Container, Kind, Message, Nanos, Participant } from '../core/model';
import { nanosToRfc3339, nanosToTimestamp } from '../core/time';
import { textBytesOf, withTextBytes } from '../core/text-bytes';
import { Chats, MessageSchema as ChatMessage } from '../gen/chats/chats_pb';
import { Streams, MessageSchema as StreamMessage } from '../gen/streams/streams_pb';
import { Threads, MessageSchema as ThreadMessage } from '../gen/threads/threads_pb';
import type { Reply } from './operation';

export interface Api {
  kind: Kind;
  service: DescService;
  /** Its message type. */
  message: DescMessage;
  /** The container in responses: `thread`, `chat`, `conversation`. */
  one: string;
  /** The list of containers in responses (`threads`), when the API lists them. */
  many: string;
  /** The container id field of message requests and messages: wire name and local (camelCase) name. */
  containerId: Field;
  /** RecentMessages' repeated ids, and its per-container limit. */
  ids: Field;
  perContainer: Field;
  missingContainerId: ErrorId;
  missingIds: ErrorId;
  /** RecentMessages may name a group instead of ids (Threads only). */
  recentByGroup: boolean;
  /** Unix nanoseconds (a decimal string) as this API's time type. */
  time(n: Nanos): unknown;
}

export interface Field {
  wire: string;
  local: string;
}

const field = (wire: string): Field => ({ wire, local: wire.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) });

export const threadsApi: Api = {
  kind: 'thread',
  service: Threads,
  message: ThreadMessage,
  one: 'thread',
  many: 'threads',
  containerId: field('thread_id'),
  ids: field('thread_ids'),
  perContainer: field('limit_per_thread'),
  missingContainerId: 'MISSING_THREAD_ID',
  missingIds: 'MISSING_THREAD_IDS',
  recentByGroup: true,
  time: nanosToRfc3339,
};

export const chatsApi: Api = {
  kind: 'chat',
  service: Chats,
  message: ChatMessage,
  one: 'chat',
  many: 'chats',
  containerId: field('chat_id'),
  ids: field('chat_ids'),
  perContainer: field('limit_per_chat'),
  missingContainerId: 'MISSING_CHAT_ID',
  missingIds: 'MISSING_CHAT_IDS',
  recentByGroup: false,
  time: (n) => BigInt(n),
};

export const streamsApi: Api = {
  kind: 'conversation',
  service: Streams,
  message: StreamMessage,
  one: 'conversation',
  many: 'conversations',
  containerId: field('conversation_id'),
  ids: field('conversation_ids'),
  perContainer: field('limit_per_conversation'),
  missingContainerId: 'MISSING_CONVERSATION_ID',
  missingIds: 'MISSING_CONVERSATION_IDS',
  recentByGroup: false,
  time: nanosToTimestamp,
};

/**
 * A container as a reply field. One shape serves the three APIs: each
 * output message takes the fields it has (a chat has no topic, a thread no
 * user ids) and ignores the rest.
 */
export function containerReply(api: Api, c: Container): Reply {
  return {
    id: c.id,
    groupId: c.groupId,
    topic: c.topic,
    userIds: c.userIds,
    createdAt: api.time(c.createdAt),
    metadata: c.metadata,
    lastMessageAt: optionalTime(api, c.lastMessageAt),
    messageCount: BigInt(c.messageCount),
    updatedAt: optionalTime(api, c.updatedAt),
    unreadCount: c.unreadCount === undefined ? undefined : BigInt(c.unreadCount),
    lastMessage: c.lastMessage ? messageReply(api, c.lastMessage) : undefined,
    createdBy: c.createdBy,
    parentThreadId: c.parentThreadId,
    parentMessageId: c.parentMessageId,
    deletedAt: optionalTime(api, c.deletedAt),
    participants: c.participants?.map((p) => participantReply(api, p)) ?? [],
  };
}

export function participantReply(api: Api, p: Participant): Reply {
  return { id: p.id, type: p.type, name: p.name, role: p.role, metadata: p.metadata, joinedAt: api.time(p.joinedAt) };
}

/** A time that may be unset ("") in the API's type: unset stays the field's default. */
const optionalTime = (api: Api, n: Nanos): unknown => (n === '' ? undefined : api.time(n));

/**
 * A message as a reply field. One whose text came as bytes (a large page) is
 * made the API's message here, carrying those bytes: an output message reuses
 * it as it is, and only the gRPC encoder reads the bytes (core/text-bytes.ts).
 */
export function messageReply(api: Api, m: Message): Reply {
  const bytes = textBytesOf(m);
  const r = {
    id: m.id,
    authorId: m.authorId,
    [api.containerId.local]: m.containerId,
    text: bytes ? '' : m.text,
    sentAt: api.time(m.sentAt),
    seq: BigInt(m.seq),
    metadata: m.metadata,
    editedAt: optionalTime(api, m.editedAt),
    deletedAt: optionalTime(api, m.deletedAt),
  };
  return bytes ? withTextBytes(create(api.message, r), bytes) : r;
}
