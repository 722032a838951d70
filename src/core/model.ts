/**
 * The one model behind the three APIs: a container (thread, chat or
 * conversation) holding messages totally ordered by acceptance.
 */

/** Which API a container belongs to; each kind's data is separate from the others'. */
export type Kind = 'thread' | 'chat' | 'conversation';

/** Times are Unix nanoseconds as a decimal string: exact, and comparable by value. */
export type Nanos = string;

export interface Container {
  kind: Kind;
  id: string;
  /** Threads and conversations: the group. Chats: empty. */
  groupId: string;
  /** Threads and conversations: the topic. Chats: empty. */
  topic: string;
  createdAt: Nanos;
  /** Chats: the sorted user ids. Others: empty. */
  userIds: string[];
  /** Messages accepted so far (the last seq handed out). */
  lastSeq: number;
  messageCount: number;
  /** sent_at of the newest message ever accepted, "" when there is none (deletes do not move it back). */
  lastMessageAt: Nanos;
  metadata: Metadata;
  /** Creation, then the last change to the container or a message in it. */
  updatedAt: Nanos;
  /** For the user a read asked about: the visible messages after their read pointer. */
  unreadCount?: number;
  /** When asked for: the newest message that is not deleted (null: none). */
  lastMessage?: Message | null;
  /** Threads (README, "A richer thread"): who created it ("" when not given). */
  createdBy: string;
  /** Threads: a sub-thread's root message, in another thread of the group ("" for a top-level thread). */
  parentThreadId: string;
  parentMessageId: string;
  /** Threads: when it went to the trash ("" while live). */
  deletedAt: Nanos;
  /** Threads, when read whole (ReadThread, CreateThread, the participant calls): in join order. */
  participants?: Participant[];
}

export type ParticipantType = 'user' | 'agent' | 'tool';
export type ParticipantRole = 'read_write' | 'read_only';

/** Someone or something taking part in a thread. */
export interface Participant {
  id: string;
  type: ParticipantType;
  name: string;
  role: ParticipantRole;
  metadata: Metadata;
  /** Set when the id first joined; kept by later updates. */
  joinedAt: Nanos;
}

/** A participant as a call gives it (joined_at is the store's). */
export type NewParticipant = Omit<Participant, 'joinedAt'>;

/** Which threads a list shows: live (the default), live and trashed, or trashed only. */
export type TrashInclusion = 'live' | 'all' | 'trash';

/** ListThreads filters, combined with AND (README, "A richer thread"). */
export interface ThreadFilter {
  ids?: string[];
  participantId?: string;
  createdBy?: string;
  /** A message id, or null for top-level threads only. */
  parentMessageId?: string | null;
  /** Exclusive bounds, Unix ns. */
  createdAfter?: Nanos;
  createdBefore?: Nanos;
  updatedAfter?: Nanos;
  updatedBefore?: Nanos;
}

/** Free-form key/values (README, "Metadata"). */
export type Metadata = Record<string, string>;

export interface Message {
  id: string;
  containerId: string;
  authorId: string;
  text: string;
  sentAt: Nanos;
  /** 1, 2, 3… per container in acceptance order, never reused. */
  seq: number;
  metadata: Metadata;
  /** "" until edited. */
  editedAt: Nanos;
  /** "" unless deleted: then the message is a tombstone (no text, metadata or editedAt). */
  deletedAt: Nanos;
}

/** A change to one message (README, "Edit, delete, restore, purge"). */
export type MessageChange = { op: 'update'; text: string; metadata?: Metadata } | { op: 'delete' | 'restore' | 'purge' };

/** Which messages a list shows: not deleted (the default), only deleted ones, or all of them in place. */
export type Inclusion = 'visible' | 'deleted' | 'all';

export interface NewContainer {
  id: string;
  groupId: string;
  topic: string;
  metadata: Metadata;
  /** Threads only. */
  createdBy?: string;
  parent?: { threadId: string; messageId: string };
  participants?: NewParticipant[];
}

export interface NewMessage {
  /** The message id: the caller's when `clientId`, else a fresh one. */
  id: string;
  /** True when the caller chose the id: a repeat returns the stored message. */
  clientId: boolean;
  authorId: string;
  text: string;
  metadata: Metadata;
  /** Chats: refuse an author who is not one of the chat's users (NOT_A_MEMBER). */
  membersOnly?: boolean;
}

/** A keyset position to page from (README, "Paging with cursors"): after or before the item at `at` (a seq, or an order score). */
export interface KeysetCursor {
  dir: 'after' | 'before';
  at: number;
}

/** One page and where it stands in its list. */
export interface Page<T> {
  items: T[];
  /** Positions of the items (seq, or order score), in the page's order. */
  positions: number[];
  /** More items lie beyond the page in the direction asked. */
  hasMore: boolean;
  /** An item follows the page's last one in the chosen order. */
  followsLast: boolean;
}

export interface MessagePage extends Page<Message> {
  /** The container's live-feed position when the page was read (same step). */
  feedPosition: number;
  /** What the page counted against its budget (ids and stored records). */
  bytes: number;
}

export interface MessageQuery {
  limit: number;
  offset: number;
  order: 'asc' | 'desc';
  cursor?: KeysetCursor;
  /** Only messages strictly older than this (Streams' sent_before). */
  sentBefore?: Nanos;
  /** Bytes of ids and records the page may hold; past it the store throws ReplyTooLarge without building the page. */
  budget: number;
  /** Default: visible. */
  include?: Inclusion;
  /** A read that may answer more than LARGE_READ_BYTES: the store runs it apart from the cheap ones. */
  large?: boolean;
}

export interface ContainerPage {
  limit: number;
  offset: number;
  order: 'asc' | 'desc';
  /** Threads and conversations: creation order (default) or last activity. */
  orderBy?: 'created_at' | 'last_message_at';
  /** With it, each container carries this user's unread count. */
  userId?: string;
  cursor?: KeysetCursor;
  /** Threads: the trash (default: live only). */
  include?: TrashInclusion;
  /** Threads: filters (creation order only). */
  filter?: ThreadFilter;
}

/**
 * What the core needs from storage. The Redis adapter (`store/redis-store.ts`)
 * is the implementation; everything about keys, scripts and atomicity lives there.
 * `ns` is the tenant namespace, part of every key.
 */
export interface ContainerStore {
  /** Create a new container with a fresh id; `createdAt` is taken by the store. */
  createContainer(ns: string, kind: Kind, c: NewContainer): Promise<Container>;
  /** Threads: adds or replaces participants (TOO_MANY past MAX_PARTICIPANTS), or removes them; the thread with all its participants. */
  changeParticipants(ns: string, id: string, change: { add: NewParticipant[] } | { remove: string[] }): Promise<Container>;
  /** Threads: a page of participants in join order (positions: join positions). */
  listParticipants(ns: string, id: string, page: { limit: number; cursor?: KeysetCursor }): Promise<Page<Participant>>;
  /** Threads: into the trash or out of it (repeating changes nothing); NOT_FOUND when absent. */
  trashThread(ns: string, id: string, op: 'trash' | 'restore'): Promise<Container>;
  /** Threads: hard-deletes a thread in the trash (NOT_DELETED otherwise, NOT_FOUND when absent). */
  purgeThread(ns: string, id: string): Promise<void>;
  /** The container with its participants (threads), or null. */
  getWhole(ns: string, kind: Kind, id: string): Promise<Container | null>;
  getContainer(ns: string, kind: Kind, id: string): Promise<Container | null>;
  /** A new topic (unless "") and metadata merged in; NOT_FOUND when absent, INVALID_ARGUMENT over a metadata limit. */
  updateContainer(ns: string, kind: Kind, id: string, change: { topic: string; metadata?: Metadata }): Promise<Container>;
  /** NOT_FOUND for an absent container or message; MESSAGE_DELETED, MESSAGE_PURGED, metadata limits (README). */
  changeMessage(ns: string, kind: Kind, containerId: string, messageId: string, change: MessageChange): Promise<Message>;
  readMessage(ns: string, kind: Kind, containerId: string, messageId: string): Promise<Message>;
  /** The container with `userId`'s unread count (when given) and its last visible message (when asked); null when absent. */
  summary(ns: string, kind: Kind, id: string, opts: { userId?: string; lastMessage?: boolean }): Promise<Container | null>;
  /** Moves `userId`'s read pointer forward to the message (or the latest); the container with the unread count. */
  markRead(ns: string, kind: Kind, id: string, userId: string, messageId: string): Promise<Container>;
  /** Containers with unread messages for a user: over their chats, or a group's containers they have a read pointer in (at most `max`, the most recent). */
  unread(ns: string, kind: Kind, userId: string, groupId: string, max: number): Promise<Container[]>;
  /** A user's chats, most recent activity first (positions: activity, Unix µs), each with the user's unread count and its last message. */
  listInbox(ns: string, userId: string, page: ContainerPage): Promise<Page<Container>>;
  /** Removes the container and all its messages in O(1) on the request path. Absent ids succeed. */
  deleteContainer(ns: string, kind: Kind, id: string): Promise<void>;
  /** A group's containers by creation order (positions: their order scores). */
  listGroup(ns: string, kind: Kind, groupId: string, page: ContainerPage): Promise<Page<Container>>;
  /**
   * Appends a message, or returns the stored one when `clientId` and the id exists.
   * NOT_FOUND when the container is absent.
   */
  appendMessage(ns: string, kind: Kind, containerId: string, m: NewMessage): Promise<Message>;
  /** NOT_FOUND when the container is absent. */
  listMessages(ns: string, kind: Kind, containerId: string, q: MessageQuery): Promise<MessagePage>;
  /** A secret shared by every instance on this store (made on first use), for cursors. */
  sharedSecret(): Promise<Buffer>;
  /**
   * The chat of exactly this set of users (sorted, distinct), created with
   * `id` when the set has none.
   */
  chatForUsers(ns: string, userIds: readonly string[], id: string, metadata: Metadata): Promise<Container>;
  close(): Promise<void>;
}

/** What a feed event says happened to its message (README, "The live feed"). */
export type ChangeType = 'created' | 'updated' | 'deleted' | 'restored' | 'purged';

/** One accepted change in a container's feed. */
export interface FeedEntry {
  /** Its place in the container's feed: 1, 2, 3… */
  position: number;
  type: ChangeType;
  /** The message as it is now (null when it is no longer stored). */
  message: Message | null;
  /** When the change was accepted, Unix ms (delivery lag is measured from it). */
  acceptedMs: number;
}

export interface FeedRead {
  /** The container's newest feed position. */
  last: number;
  /** The events after the asked position are no longer all kept: the reader must start again from `last`. */
  resync: boolean;
  entries: FeedEntry[];
}

/** What the live feed needs from storage (store/redis-store.ts, store/redis-wake.ts). */
export interface FeedStore {
  /** Up to `count` events after `after`; NOT_FOUND when the container is absent. */
  readFeed(ns: string, kind: Kind, id: string, after: number, count: number): Promise<FeedRead>;
  /** A user's chats, newest first, at most `max`. */
  userChats(ns: string, userId: string, max: number): Promise<string[]>;
}

/** A channel of wake-ups: a container's feed moved, or a user has a new chat. */
export type WakeTopic = { ns: string; kind: Kind; id: string } | { ns: string; userId: string };

/**
 * What a wake-up says: a container's feed reached `position` (with the event
 * at that position, when the source carries it), or a user has a new chat.
 */
export type Wake = { position: number; entry?: FeedEntry } | { chatId: string };

/**
 * Wake-ups from every instance (Redis sharded pub/sub). The feed is the
 * truth: a wake-up that does not follow on from what an instance has seen
 * makes it read the feed, and a lost connection is reported by `onReset`.
 */
export interface WakeSource {
  /** Resolves once wake-ups of `topic` are being received. */
  watch(topic: WakeTopic, onWake: (wake: Wake) => void): Promise<void>;
  unwatch(topic: WakeTopic): void;
  /** `up`: wake-ups flow again (some may have been lost); `down`: none arrive until `up`. */
  onReset(f: (state: 'up' | 'down') => void): void;
  close(): Promise<void>;
}

/** Which bucket a call draws from. */
export type RateScope = { ns: string } | { ns: string; kind: Kind; containerId: string };

/** A token bucket shared by every service instance. */
export interface RateLimiter {
  /** Takes a token; `retryAfterMs` > 0 when the bucket is empty. */
  take(scope: RateScope, ratePerSecond: number, burst: number): Promise<{ ok: boolean; retryAfterMs: number }>;
}
