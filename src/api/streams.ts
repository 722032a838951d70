/**
 * streams.Streams: the Threads model with Conversation names and protobuf
 * well-known types (Timestamp with full nanoseconds; StringValue and
 * Int32Value, which ts-proto unwraps to `string | undefined` and
 * `number | undefined`).
 */
import type { Containers } from '../core/containers';
import { AppError } from '../core/errors';
import { DEFAULT_PAGE_SIZE } from '../core/limits';
import type { Container, Message } from '../core/model';
import { nanosToTimestamp, timestampToNanos } from '../core/time';
import { checkIdList, checkStrings, intInRange } from '../core/validate';
import type { Conversation, Message as WireMessage, StreamsServer } from '../gen/streams/streams';
import type { Unary } from './unary';

const KIND = 'conversation';

export function streamsService(core: Containers, unary: Unary): StreamsServer {
  const L = core.limits;
  return {
    createConversation: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'group_id', value: req.groupId, required: 'MISSING_GROUP_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'topic', value: req.topic, required: 'MISSING_TOPIC', maxBytes: L.MAX_TOPIC_BYTES },
      ]);
      return { conversation: toConversation(await core.create(ns, KIND, req.groupId, req.topic)) };
    }),

    readConversation: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'group_id', value: req.groupId ?? '', maxBytes: L.MAX_ID_BYTES },
      ]);
      return { conversation: toConversation(await core.read(ns, KIND, req.id, req.groupId)) };
    }),

    updateConversation: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'topic', value: req.topic, required: 'MISSING_TOPIC', maxBytes: L.MAX_TOPIC_BYTES },
      ]);
      return { conversation: toConversation(await core.updateTopic(ns, KIND, req.id, req.topic)) };
    }),

    deleteConversation: unary(async (req, { ns }) => {
      checkStrings([{ field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES }]);
      await core.delete(ns, KIND, req.id);
      return {};
    }),

    listConversations: unary(async (req, { ns }) => {
      checkStrings([{ field: 'group_id', value: req.groupId, required: 'MISSING_GROUP_ID', maxBytes: L.MAX_ID_BYTES }]);
      const page = {
        limit: intInRange('limit', req.limit, L.MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
        offset: intInRange('offset', req.offset, L.MAX_OFFSET, 0),
        order: 'desc' as const,
      };
      return { conversations: (await core.list(ns, KIND, req.groupId, page)).map(toConversation) };
    }),

    createMessage: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'author_id', value: req.authorId, required: 'MISSING_AUTHOR_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'conversation_id', value: req.conversationId, required: 'MISSING_CONVERSATION_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'text', value: req.text, required: 'MISSING_TEXT', maxBytes: L.MAX_TEXT_BYTES },
        { field: 'id', value: req.id, maxBytes: L.MAX_ID_BYTES },
      ]);
      const m = await core.post(ns, KIND, req.conversationId, { id: req.id, authorId: req.authorId, text: req.text });
      return { message: toMessage(m) };
    }),

    listMessages: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'conversation_id', value: req.conversationId, required: 'MISSING_CONVERSATION_ID', maxBytes: L.MAX_ID_BYTES },
      ]);
      const limit = intInRange('limit', req.limit, L.MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);
      const sentBefore = req.sentBefore ? timestampToNanos('sent_before', req.sentBefore) : undefined;
      const list = await core.messages(ns, KIND, req.conversationId, { limit, offset: 0, order: 'desc', sentBefore });
      return { messages: list.map(toMessage) };
    }),

    recentMessages: unary(async (req, { ns }) => {
      if (req.conversationIds.length === 0) {
        throw new AppError('MISSING_CONVERSATION_IDS', undefined, { field: 'conversation_ids' });
      }
      checkIdList('conversation_ids', req.conversationIds, L);
      const per = intInRange('limit_per_conversation', req.limitPerConversation, L.MAX_RECENT_PER_CONTAINER, DEFAULT_PAGE_SIZE);
      return { messages: (await core.recent(ns, KIND, req.conversationIds, per, 'limit_per_conversation')).map(toMessage) };
    }),
  };
}

function toConversation(c: Container): Conversation {
  return { id: c.id, groupId: c.groupId, topic: c.topic, createdAt: nanosToTimestamp(c.createdAt) };
}

function toMessage(m: Message): WireMessage {
  return {
    id: m.id,
    authorId: m.authorId,
    conversationId: m.containerId,
    text: m.text,
    sentAt: nanosToTimestamp(m.sentAt),
    seq: String(m.seq),
  };
}
