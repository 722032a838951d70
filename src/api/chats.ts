/**
 * chats.Chats: direct messages between a set of users. Times are int64 Unix
 * nanoseconds (decimal strings in TypeScript, so they stay exact).
 */
import type { Containers } from '../core/containers';
import { AppError } from '../core/errors';
import type { Container, Message } from '../core/model';
import { checkIdList, checkStrings, parsePage } from '../core/validate';
import type { Chat, ChatsServer, Message as WireMessage } from '../gen/chats/chats';
import type { Unary } from './unary';

const KIND = 'chat';

export function chatsService(core: Containers, unary: Unary): ChatsServer {
  const L = core.limits;
  return {
    createChat: unary(async (req, { ns }) => {
      if (req.userIds.length < 2) {
        throw new AppError('MISSING_USER_IDS', undefined, { field: 'user_ids' });
      }
      checkIdList('user_ids', req.userIds, L);
      req.userIds.forEach((u, i) => {
        if (u === '') throw new AppError('INVALID_ARGUMENT', `user_ids[${i}] is empty`, { field: `user_ids[${i}]` });
      });
      checkStrings([{ field: 'id', value: req.id, maxBytes: L.MAX_ID_BYTES }]);
      return { chat: toChat(await core.createChat(ns, req.userIds, req.id)) };
    }),

    sendMessage: unary(async (req, { ns }) => {
      checkStrings([
        { field: 'author_id', value: req.authorId, required: 'MISSING_AUTHOR_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'chat_id', value: req.chatId, required: 'MISSING_CHAT_ID', maxBytes: L.MAX_ID_BYTES },
        { field: 'text', value: req.text, required: 'MISSING_TEXT', maxBytes: L.MAX_TEXT_BYTES },
        { field: 'id', value: req.id, maxBytes: L.MAX_ID_BYTES },
      ]);
      const m = await core.post(ns, KIND, req.chatId, { id: req.id, authorId: req.authorId, text: req.text });
      return { message: toMessage(m) };
    }),

    listMessages: unary(async (req, { ns }) => {
      checkStrings([{ field: 'chat_id', value: req.chatId, required: 'MISSING_CHAT_ID', maxBytes: L.MAX_ID_BYTES }]);
      const page = parsePage(req, L);
      return { messages: (await core.messages(ns, KIND, req.chatId, page)).map(toMessage) };
    }),
  };
}

function toChat(c: Container): Chat {
  return { id: c.id, userIds: c.userIds, createdAt: c.createdAt };
}

function toMessage(m: Message): WireMessage {
  return { id: m.id, authorId: m.authorId, chatId: m.containerId, text: m.text, sentAt: m.sentAt, seq: String(m.seq) };
}
