/**
 * The operations the three APIs share, each written once over an API
 * description (`./apis.ts`): what a request must hold, in the README's
 * order (required fields first, then sizes and shapes), then one call to the
 * core, then the reply in the API's own names and time type.
 */
import type { Containers } from '../core/containers';
import { AppError } from '../core/errors';
import { DEFAULT_PAGE_SIZE, type Limits } from '../core/limits';
import { timestampToNanos } from '../core/time';
import { checkIdList, checkMetadata, checkStrings, intInRange, parseInclusion, parseOrderBy, parsePage, parseTrashInclusion } from '../core/validate';
import { parseThreadFilter, parseThreadOptions, type ThreadListFields } from './threads';
import type { MessageChange, Metadata } from '../core/model';
import { containerReply, messageReply, type Api } from './apis';
import { unary, type Reply, type UnaryOperation } from './operation';
import type { Cursors, ListId } from '../core/cursors';
import type { KeysetCursor, Page } from '../core/model';

/** Builds operations for one API over the core. */
export type OperationBuilder = (api: Api, core: Containers, cursors: Cursors) => UnaryOperation;

export interface KeysetFields {
  after?: string;
  before?: string;
  offset?: bigint | number;
}

/**
 * The keyset cursor of a list request (README, "Paging with cursors"), checked: at most one of
 * `after` and `before`, not with a non-zero offset nor with Streams'
 * sent_before, and a cursor of exactly this list.
 */
export function keysetOf(req: KeysetFields & { sentBefore?: unknown }, list: ListId, cursors: Cursors): KeysetCursor | undefined {
  const after = req.after ?? '';
  const before = req.before ?? '';
  if (after !== '' && before !== '') throw new AppError('INVALID_ARGUMENT', 'give after or before, not both', { field: 'before' });
  if (after === '' && before === '') return undefined;
  const dir = after !== '' ? 'after' : 'before';
  if (req.offset !== undefined && BigInt(req.offset) !== 0n) {
    throw new AppError('INVALID_ARGUMENT', `offset cannot be used with a cursor (${dir}): the cursor says where the page starts`, { field: 'offset' });
  }
  if (req.sentBefore !== undefined) {
    throw new AppError('INVALID_ARGUMENT', `sent_before cannot be used with a cursor (${dir})`, { field: 'sent_before' });
  }
  return { dir, at: cursors.decode(list, dir === 'after' ? after : before, dir) };
}

/** next_cursor, prev_cursor and has_more of a page. */
export function pageFields<T>(page: Page<T>, list: ListId, cursors: Cursors): Reply {
  const n = page.items.length;
  return {
    nextCursor: n > 0 && page.followsLast ? cursors.encode(list, page.positions[n - 1]) : '',
    prevCursor: n > 0 ? cursors.encode(list, page.positions[0]) : '',
    hasMore: page.hasMore,
  };
}

const messagesList = (api: Api, ns: string, containerId: string): ListId => ({ ns, kind: api.kind, type: 'messages', scope: containerId });
/** A group's containers in creation or activity order (each order key is its own list). */
const groupList = (api: Api, ns: string, groupId: string, orderBy = 'created_at'): ListId => ({
  ns,
  kind: api.kind,
  type: 'containers',
  scope: `${orderBy}\u0000${groupId}`,
});

export const createContainer: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: Parameters<typeof parseThreadOptions>[0] & { groupId: string; topic: string; metadata?: Metadata }, { ns }) => {
    checkStrings([
      { field: 'group_id', value: req.groupId, required: 'MISSING_GROUP_ID', maxBytes: L.MAX_ID_BYTES },
      { field: 'topic', value: req.topic, required: 'MISSING_TOPIC', maxBytes: L.MAX_TOPIC_BYTES },
    ]);
    const metadata = createdMetadata(req.metadata, L);
    const thread = api.kind === 'thread' ? parseThreadOptions(req, L) : {};
    return { [api.one]: containerReply(api, await core.create(ns, api.kind, req.groupId, req.topic, metadata, thread)) };
  });
};

export const readContainer: OperationBuilder = (api, core) => {
  const L = core.limits;
  // Streams' group_id is a StringValue: absent and "" both mean "any group".
  return unary(async (req: { id: string; groupId?: string; userId?: string }, { ns }) => {
    checkStrings([
      { field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
      { field: 'group_id', value: req.groupId ?? '', maxBytes: L.MAX_ID_BYTES },
      { field: 'user_id', value: req.userId ?? '', maxBytes: L.MAX_ID_BYTES },
    ]);
    return { [api.one]: containerReply(api, await core.read(ns, api.kind, req.id, req.groupId, req.userId || undefined)) };
  });
};

export const updateContainer: OperationBuilder = (api, core) => {
  const L = core.limits;
  // topic or metadata: neither is MISSING_TOPIC, as in m3o.
  return unary(async (req: { id: string; topic: string; metadata?: Metadata }, { ns }) => {
    const hasMetadata = Object.keys(req.metadata ?? {}).length > 0;
    checkStrings([
      { field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
      { field: 'topic', value: req.topic, required: hasMetadata ? undefined : 'MISSING_TOPIC', maxBytes: L.MAX_TOPIC_BYTES },
    ]);
    checkMetadata(req.metadata, L);
    return { [api.one]: containerReply(api, await core.update(ns, api.kind, req.id, { topic: req.topic, metadata: req.metadata })) };
  });
};

export const deleteContainer: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: { id: string }, { ns }) => {
    checkStrings([{ field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES }]);
    await core.delete(ns, api.kind, req.id);
    return {};
  });
};

/** A group's containers, by offset or by cursor. */
export const listContainers: OperationBuilder = (api, core, cursors) => {
  const L = core.limits;
  type ListRequest = KeysetFields &
    ThreadListFields & { groupId: string; limit?: bigint | number; offset?: bigint | number; order?: string; orderBy?: string; userId?: string; includeDeleted?: string };
  return unary(async (req: ListRequest, { ns }) => {
    checkStrings([
      { field: 'group_id', value: req.groupId, required: 'MISSING_GROUP_ID', maxBytes: L.MAX_ID_BYTES },
      { field: 'user_id', value: req.userId ?? '', maxBytes: L.MAX_ID_BYTES },
    ]);
    const orderBy = parseOrderBy(req.orderBy);
    // Threads: the trash and the filters (README, "A richer thread"); a cursor names a position in
    // the order, so it serves any filter of that order.
    const threadQuery = api.kind === 'thread' ? { include: parseTrashInclusion(req.includeDeleted), filter: parseThreadFilter(req, orderBy, L) } : {};
    const list = groupList(api, ns, req.groupId, orderBy);
    const page = { ...parsePage(req, L), orderBy, userId: req.userId || undefined, cursor: keysetOf(req, list, cursors), ...threadQuery };
    const found = await core.list(ns, api.kind, req.groupId, page);
    return { [api.many]: found.items.map((c) => containerReply(api, c)), ...pageFields(found, list, cursors) };
  });
};

export const createMessage: OperationBuilder = (api, core) => {
  const L = core.limits;
  const cid = api.containerId;
  return unary(async (req: Record<string, string> & { metadata?: Metadata }, { ns }) => {
    checkStrings([
      { field: 'author_id', value: req.authorId, required: 'MISSING_AUTHOR_ID', maxBytes: L.MAX_ID_BYTES },
      { field: cid.wire, value: req[cid.local], required: api.missingContainerId, maxBytes: L.MAX_ID_BYTES },
      { field: 'text', value: req.text, required: 'MISSING_TEXT', maxBytes: L.MAX_TEXT_BYTES },
      { field: 'id', value: req.id, maxBytes: L.MAX_ID_BYTES },
    ]);
    const metadata = createdMetadata(req.metadata, L);
    const m = await core.post(ns, api.kind, req[cid.local], { id: req.id, authorId: req.authorId, text: req.text, metadata });
    return { message: messageReply(api, m) };
  });
};

interface ListMessagesRequest extends KeysetFields {
  limit?: bigint | number;
  order?: string;
  includeDeleted?: string;
  /** Streams only: strictly older than this. */
  sentBefore?: { seconds: bigint; nanos: number };
}

/**
 * A container's messages: by offset (Threads, Chats), by sent_before
 * (Streams), or by cursor (all three), with the container's feed position.
 */
export const listMessages: OperationBuilder = (api, core, cursors) => {
  const L = core.limits;
  const cid = api.containerId;
  return unary(async (req: ListMessagesRequest & Record<string, unknown>, { ns }) => {
    const containerId = req[cid.local] as string;
    checkStrings([{ field: cid.wire, value: containerId, required: api.missingContainerId, maxBytes: L.MAX_ID_BYTES }]);
    const page = parsePage(req, L);
    const include = parseInclusion(req.includeDeleted);
    const list = messagesList(api, ns, containerId);
    const cursor = keysetOf(req, list, cursors);
    const sentBefore = req.sentBefore ? timestampToNanos('sent_before', req.sentBefore) : undefined;
    const found = await core.messages(ns, api.kind, containerId, { ...page, sentBefore, cursor, include });
    return {
      messages: found.items.map((m) => messageReply(api, m)),
      ...pageFields(found, list, cursors),
      feedCursor: cursors.encode({ ns, kind: api.kind, type: 'feed', scope: containerId }, found.feedPosition),
    };
  });
};

/** The latest messages of each listed container (or, where the API allows, of a group's newest ones). */
export const recentMessages: OperationBuilder = (api, core) => {
  const L = core.limits;
  const { ids: idsField, perContainer } = api;
  return unary(async (req: Record<string, unknown> & { groupId?: string; includeDeleted?: string }, { ns }) => {
    const ids = req[idsField.local] as string[];
    const groupId = api.recentByGroup ? (req.groupId ?? '') : '';
    if (ids.length === 0 && groupId === '') throw new AppError(api.missingIds, undefined, { field: idsField.wire });
    checkIdList(idsField.wire, ids, L);
    checkStrings([{ field: 'group_id', value: groupId, maxBytes: L.MAX_ID_BYTES }]);
    const per = intInRange(perContainer.wire, req[perContainer.local] as bigint | number | undefined, L.MAX_RECENT_PER_CONTAINER, DEFAULT_PAGE_SIZE);
    const include = parseInclusion(req.includeDeleted);
    const messages =
      ids.length > 0
        ? await core.recent(ns, api.kind, ids, per, perContainer.wire, include)
        : await core.recentInGroup(ns, api.kind, groupId, per, perContainer.wire, include);
    return { messages: messages.map((m) => messageReply(api, m)) };
  });
};

/** Chats only: the chat of a set of users. */
export const createChat: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: { userIds: string[]; id: string; metadata?: Metadata }, { ns }) => {
    if (req.userIds.length < 2) throw new AppError('MISSING_USER_IDS', undefined, { field: 'user_ids' });
    checkIdList('user_ids', req.userIds, L);
    req.userIds.forEach((u, i) => {
      if (u === '') throw new AppError('INVALID_ARGUMENT', `user_ids[${i}] is empty`, { field: `user_ids[${i}]` });
    });
    checkStrings([{ field: 'id', value: req.id, maxBytes: L.MAX_ID_BYTES }]);
    const metadata = createdMetadata(req.metadata, L);
    return { [api.one]: containerReply(api, await core.createChat(ns, req.userIds, req.id, metadata)) };
  });
};

/** Metadata given to a create call: checked, with empty values left out (an empty value means "no key"). */
function createdMetadata(m: Metadata | undefined, L: Limits): Metadata {
  checkMetadata(m, L);
  return Object.fromEntries(Object.entries(m ?? {}).filter(([, v]) => v !== ''));
}

/** The message's container and id, both required, in that order. */
function messageRef(api: Api, req: Record<string, unknown>, L: Limits): [string, string] {
  const cid = api.containerId;
  const containerId = (req[cid.local] as string | undefined) ?? '';
  const id = (req.id as string | undefined) ?? '';
  checkStrings([
    { field: cid.wire, value: containerId, required: api.missingContainerId, maxBytes: L.MAX_ID_BYTES },
    { field: 'id', value: id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
  ]);
  return [containerId, id];
}

/** UpdateMessage: a new text (unless empty) and metadata merged in; one of the two is required (MISSING_TEXT). */
export const updateMessage: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: Record<string, unknown> & { text?: string; metadata?: Metadata }, { ns }) => {
    const [containerId, id] = messageRef(api, req, L);
    const text = req.text ?? '';
    const hasMetadata = Object.keys(req.metadata ?? {}).length > 0;
    checkStrings([{ field: 'text', value: text, required: hasMetadata ? undefined : 'MISSING_TEXT', maxBytes: L.MAX_TEXT_BYTES }]);
    checkMetadata(req.metadata, L);
    const m = await core.changeMessage(ns, api.kind, containerId, id, { op: 'update', text, metadata: req.metadata });
    return { message: messageReply(api, m) };
  });
};

/** DeleteMessage, RestoreMessage, PurgeMessage: the message after the change. */
const lifecycle =
  (op: Exclude<MessageChange['op'], 'update'>): OperationBuilder =>
  (api, core) => {
    const L = core.limits;
    return unary(async (req: Record<string, unknown>, { ns }) => {
      const [containerId, id] = messageRef(api, req, L);
      return { message: messageReply(api, await core.changeMessage(ns, api.kind, containerId, id, { op })) };
    });
  };
export const deleteMessage = lifecycle('delete');
export const restoreMessage = lifecycle('restore');
export const purgeMessage = lifecycle('purge');

export const readMessage: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: Record<string, unknown>, { ns }) => {
    const [containerId, id] = messageRef(api, req, L);
    return { message: messageReply(api, await core.readMessage(ns, api.kind, containerId, id)) };
  });
};

/** MarkRead: the user's read pointer forward to a message (or the latest); the container with the user's unread count. */
export const markRead: OperationBuilder = (api, core) => {
  const L = core.limits;
  const cid = api.containerId;
  return unary(async (req: Record<string, string>, { ns }) => {
    checkStrings([
      { field: cid.wire, value: req[cid.local], required: api.missingContainerId, maxBytes: L.MAX_ID_BYTES },
      { field: 'user_id', value: req.userId, required: 'MISSING_USER_ID', maxBytes: L.MAX_ID_BYTES },
      { field: 'message_id', value: req.messageId, maxBytes: L.MAX_ID_BYTES },
    ]);
    return { [api.one]: containerReply(api, await core.markRead(ns, api.kind, req[cid.local], req.userId, req.messageId)) };
  });
};

/** The user's chat list, in activity order (a user's activity; a later order key makes another list). */
const inboxList = (ns: string, userId: string): ListId => ({ ns, kind: 'chat', type: 'containers', scope: `activity\u0000${userId}` });

/** Chats only: a user's chats, most recent activity first, with last message and unread count. */
export const listChats: OperationBuilder = (api, core, cursors) => {
  const L = core.limits;
  return unary(async (req: KeysetFields & { userId: string; limit?: bigint | number }, { ns }) => {
    checkStrings([{ field: 'user_id', value: req.userId, required: 'MISSING_USER_ID', maxBytes: L.MAX_ID_BYTES }]);
    const list = inboxList(ns, req.userId);
    const page = { ...parsePage({ limit: req.limit }, L), order: 'desc' as const, cursor: keysetOf(req, list, cursors) };
    const found = await core.listChats(ns, req.userId, page);
    return { [api.many]: found.items.map((c) => containerReply(api, c)), ...pageFields(found, list, cursors) };
  });
};

/** Chats only: one chat with its last message; with user_id, that user's unread count. */
export const readChat: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: { id: string; userId: string }, { ns }) => {
    checkStrings([
      { field: 'id', value: req.id, required: 'MISSING_ID', maxBytes: L.MAX_ID_BYTES },
      { field: 'user_id', value: req.userId, maxBytes: L.MAX_ID_BYTES },
    ]);
    return { [api.one]: containerReply(api, await core.readChat(ns, req.id, req.userId)) };
  });
};

/** GetUnread: a user's unread total and per-container counts (their chats, or a group's containers they read in). */
export const getUnread: OperationBuilder = (api, core) => {
  const L = core.limits;
  return unary(async (req: { userId: string; groupId?: string }, { ns }) => {
    checkStrings([
      { field: 'user_id', value: req.userId, required: 'MISSING_USER_ID', maxBytes: L.MAX_ID_BYTES },
      ...(api.kind === 'chat' ? [] : [{ field: 'group_id', value: req.groupId ?? '', required: 'MISSING_GROUP_ID' as const, maxBytes: L.MAX_ID_BYTES }]),
    ]);
    const found = await core.unread(ns, api.kind, req.userId, req.groupId ?? '');
    const counts = found.map((c) => ({ id: c.id, unreadCount: BigInt(c.unreadCount ?? 0) }));
    return { total: counts.reduce((sum, c) => sum + c.unreadCount, 0n), counts };
  });
};
