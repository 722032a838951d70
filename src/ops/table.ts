/**
 * The one table: every method of the three services and the operation that
 * serves it. Adding a method to a proto without an entry here stops the start
 * (OperationTable checks both ways).
 */
import type { Containers } from '../core/containers';
import type { Cursors } from '../core/cursors';
import { chatsApi, streamsApi, threadsApi, type Api } from './apis';
import { OperationTable, type ServiceOperations } from './operation';
import {
  createChat,
  createContainer,
  createMessage,
  deleteContainer,
  listContainers,
  listMessages,
  readContainer,
  recentMessages,
  updateContainer,
  type OperationBuilder,
} from './shared';

/** Method name → operation builder, per API. */
const METHODS: readonly [Api, Record<string, OperationBuilder>][] = [
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
    },
  ],
  [
    chatsApi,
    {
      CreateChat: createChat,
      SendMessage: createMessage,
      ListMessages: listMessages,
      DeleteChat: deleteContainer,
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
    },
  ],
];

export function buildOperations(core: Containers, cursors: Cursors): OperationTable {
  return new OperationTable(
    METHODS.map(([api, methods]) => ({
      service: api.service,
      ops: Object.fromEntries(Object.entries(methods).map(([name, build]) => [name, build(api, core, cursors)])) as ServiceOperations,
    })),
  );
}
