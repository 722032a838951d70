/**
 * The one table: every method of the three services and the operation that
 * serves it. Adding a method to a proto without an entry here stops the start
 * (OperationTable checks both ways).
 */
import type { Containers } from '../core/containers';
import type { Cursors } from '../core/cursors';
import { chatsApi, streamsApi, threadsApi, type Api } from './apis';
import { OperationTable, type Operation, type ServiceOperations } from './operation';
import { subscribe, type FeedDeps } from './subscribe';
import {
  createChat,
  createContainer,
  createMessage,
  deleteContainer,
  deleteMessage,
  getUnread,
  listChats,
  markRead,
  purgeMessage,
  readChat,
  readMessage,
  restoreMessage,
  updateMessage,
  listContainers,
  listMessages,
  readContainer,
  recentMessages,
  updateContainer,
} from './shared';
import { addParticipants, listParticipants, purgeThread, removeParticipants, restoreThread, softDeleteThread } from './threads';

type Builder = (api: Api, core: Containers, cursors: Cursors, feed: FeedDeps) => Operation;

/** What every API has beyond m3o (contract section 7): the message lifecycle, read state and the live feed. */
const MESSAGE_LIFE: Record<string, Builder> = {
  UpdateMessage: updateMessage,
  DeleteMessage: deleteMessage,
  RestoreMessage: restoreMessage,
  PurgeMessage: purgeMessage,
  ReadMessage: readMessage,
  MarkRead: markRead,
  GetUnread: getUnread,
  Subscribe: subscribe,
};

/** Method name → operation builder, per API. */
const METHODS: readonly [Api, Record<string, Builder>][] = [
  [
    threadsApi,
    {
      CreateThread: createContainer,
      ReadThread: readContainer,
      UpdateThread: updateContainer,
      DeleteThread: deleteContainer,
      ListThreads: listContainers,
      CreateMessage: createMessage,
      ListMessages: listMessages,
      RecentMessages: recentMessages,
      ...MESSAGE_LIFE,
      AddParticipants: addParticipants,
      RemoveParticipants: removeParticipants,
      ListParticipants: listParticipants,
      SoftDeleteThread: softDeleteThread,
      RestoreThread: restoreThread,
      PurgeThread: purgeThread,
    },
  ],
  [
    chatsApi,
    {
      CreateChat: createChat,
      SendMessage: createMessage,
      ListMessages: listMessages,
      DeleteChat: deleteContainer,
      ListChats: listChats,
      ReadChat: readChat,
      ...MESSAGE_LIFE,
    },
  ],
  [
    streamsApi,
    {
      CreateConversation: createContainer,
      ReadConversation: readContainer,
      UpdateConversation: updateContainer,
      DeleteConversation: deleteContainer,
      ListConversations: listContainers,
      CreateMessage: createMessage,
      ListMessages: listMessages,
      RecentMessages: recentMessages,
      ...MESSAGE_LIFE,
    },
  ],
];

export function buildOperations(core: Containers, cursors: Cursors, feed: FeedDeps): OperationTable {
  return new OperationTable(
    METHODS.map(([api, methods]) => ({
      service: api.service,
      ops: Object.fromEntries(Object.entries(methods).map(([name, build]) => [name, build(api, core, cursors, feed)])) as ServiceOperations,
    })),
  );
}
