/**
 * threads.Threads: checks the request, calls the core, maps to the wire.
 * Times are RFC 3339 strings with nanoseconds.
 */
import type { Containers } from '../core/containers';
import { AppError } from '../core/errors';
import { DEFAULT_PAGE_SIZE } from '../core/limits';
import type { Container, Message } from '../core/model';
import { nanosToRfc3339 } from '../core/time';
import { checkIdList, checkStrings, intInRange, parsePage } from '../core/validate';
import type { ThreadsServer, Thread, Message as WireMessage } from '../gen/threads/threads';
import type { Unary } from './unary';

const KIND = 'thread';

export function threadsService(core: Containers, unary: Unary): ThreadsServer {
  const L = core.limits;
  return {
    createThread: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'group_id', value: req.groupId, required: 'MISSING_GROUP_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'topic', value: req.topic, required: 'MISSING_TOPIC', maxBytes: L.MAX_TOPIC_BYTES },
      ]);
      return { thread: toThread(await core.create(ns, KIND, req.groupId, req.topic)) };
    }),

    readThread: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'group_id', value: req.groupId, maxBytes: L.MAX_ID_BYTES },
      ]);
      return { thread: toThread(await core.read(ns, KIND, req.id, req.groupId)) };
    }),

    updateThread: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'topic', value: req.topic, required: 'MISSING_TOPIC', maxBytes: L.MAX_TOPIC_BYTES },
      ]);
      return { thread: toThread(await core.updateTopic(ns, KIND, req.id, req.topic)) };
    }),

    deleteThread: unary(async (req, { ns }) => {
      checkStrings([{ field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES }]);
      await core.delete(ns, KIND, req.id);
      return {};
    }),

    listThreads: unary(async (req, { ns }) => {
      checkStrings([{ field: 'group_id', value: req.groupId, required: 'MISSING_GROUP_ID', maxBytes: L.MAX_ID_BYTES }]);
      const page = parsePage(req, L);
      return { threads: (await core.list(ns, KIND, req.groupId, page)).map(toThread) };
    }),

    createMessage: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'author_id', value: req.authorId, required: 'MISSING_AUTHOR_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'thread_id', value: req.threadId, required: 'MISSING_THREAD_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'text', value: req.text, required: 'MISSING_TEXT', maxBytes: L.MAX_TEXT_BYTES },
        { field: 'id', value: req.id, maxBytes: L.MAX_ID_BYTES },
      ]);
      const m = await core.post(ns, KIND, req.threadId, { id: req.id, authorId: req.authorId, text: req.text });
      return { message: toMessage(m) };
    }),

    listMessages: unary(async (req, { ns }) => {
      checkStrings([{ field: 'thread_id', value: req.threadId, required: 'MISSING_THREAD_ID', maxBytes: L.MAX_ID_BYTES }]);
      const page = parsePage(req, L);
      return { messages: (await core.messages(ns, KIND, req.threadId, page)).map(toMessage) };
    }),

    recentMessages: unary(async (req, { ns }) => {
      if (req.threadIds.length === 0 && req.groupId === '') throw new AppError('MISSING_THREAD_IDS', undefined, { field: 'thread_ids' });
      checkIdList('thread_ids', req.threadIds, L);
      checkStrings([{ field: 'group_id', value: req.groupId, maxBytes: L.MAX_ID_BYTES }]);
      const per = intInRange('limit_per_thread', req.limitPerThread, L.MAX_RECENT_PER_CONTAINER, DEFAULT_PAGE_SIZE);
      const messages =
        req.threadIds.length > 0
          ? await core.recent(ns, KIND, req.threadIds, per, 'limit_per_thread')
          : await core.recentInGroup(ns, KIND, req.groupId, per, 'limit_per_thread');
      return { messages: messages.map(toMessage) };
    }),
  };
}

function toThread(c: Container): Thread {
  return { id: c.id, groupId: c.groupId, topic: c.topic, createdAt: nanosToRfc3339(c.createdAt) };
}

function toMessage(m: Message): WireMessage {
  return {
    id: m.id,
    authorId: m.authorId,
    threadId: m.containerId,
    text: m.text,
    sentAt: nanosToRfc3339(m.sentAt),
    seq: String(m.seq),
  };
}
