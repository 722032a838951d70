/**
 * The operations all three APIs share, over any ContainerStore. Adapters check
 * required fields and sizes (they know the wire names); this layer owns the
 * behaviour: ids, NOT_FOUND, group matching, chat user sets, RecentMessages.
 */
import { randomUUID } from 'node:crypto';
import { AppError, notFound, ReplyTooLarge } from './errors';
import type { Limits } from './limits';
import type { ReadSlots } from './read-slots';
import type { Throttle } from './throttle';
import type {
  Container,
  ContainerPage,
  ContainerStore,
  Kind,
  KeysetCursor,
  Message,
  Inclusion,
  MessageChange,
  MessagePage,
  MessageQuery,
  Metadata,
  NewParticipant,
  Page,
  Participant,
} from './model';

/** What CreateThread may add to a container (README, "A richer thread"). */
export interface ThreadOptions {
  createdBy?: string;
  parent?: { threadId: string; messageId: string };
  participants?: NewParticipant[];
}

export class Containers {
  constructor(
    private readonly store: ContainerStore,
    readonly limits: Limits,
    /** Per-container write limits; none when absent. */
    private readonly throttle?: Throttle,
    /** Per-namespace slots for large reads; unbounded when absent. */
    private readonly reads?: ReadSlots,
    private readonly newId: () => string = randomUUID,
    /** CHATS_ENFORCE_MEMBERSHIP: a chat message's author must be one of its users. */
    private readonly chatsMembersOnly = false,
  ) {}

  /**
   * A read that may answer more than LARGE_READ_BYTES (its items × the most
   * one item may hold under the limits) takes a slot of its namespace;
   * smaller ones run at once.
   */
  private slotted<T>(ns: string, mostBytes: number, fn: () => Promise<T>): Promise<T> {
    return this.reads && mostBytes > LARGE_READ_BYTES ? this.reads.run(ns, fn) : fn();
  }

  /**
   * A message read that may answer more than LARGE_READ_BYTES is first tried within that
   * budget and without a slot: the store's scripts stop at the budget and answer TOO_LARGE
   * before sending anything, so one that turns out small (most do: the worst case counts every
   * text at 16 KiB) costs what it would without slots, and many run at once. Only one that is
   * larger takes a slot of its namespace and reads again with the whole budget, on the store's
   * large-read connection (README, "Fairness").
   */
  private async sized<T>(ns: string, mostBytes: number, read: (budget: number, large: boolean) => Promise<T>): Promise<T> {
    const full = this.limits.MAX_REPLY_BYTES;
    const large = mostBytes > LARGE_READ_BYTES;
    if (!this.reads || !large || full <= LARGE_READ_BYTES) return read(full, large);
    try {
      return await read(LARGE_READ_BYTES, false);
    } catch (e) {
      if (!(e instanceof ReplyTooLarge)) throw e;
    }
    return this.reads.run(ns, () => read(full, true));
  }

  /** The most bytes `n` messages (or containers) may take in a reply under the limits. */
  private mostBytes(n: number, what: 'messages' | 'containers'): number {
    const L = this.limits;
    return n * ((what === 'messages' ? L.MAX_TEXT_BYTES : L.MAX_TOPIC_BYTES) + 2 * L.MAX_ID_BYTES + 64);
  }

  /**
   * A new container. Threads may name a creator, first participants, and a parent: a message of
   * another thread of the same group that is not in the trash (NOT_FOUND naming the field otherwise).
   */
  async create(ns: string, kind: Kind, groupId: string, topic: string, metadata: Metadata = {}, thread: ThreadOptions = {}): Promise<Container> {
    if (thread.parent) {
      const parent = await this.store.getContainer(ns, 'thread', thread.parent.threadId);
      if (!parent || parent.groupId !== groupId || parent.deletedAt !== '') {
        throw new AppError('NOT_FOUND', 'parent_thread_id: no thread of this group by that id outside the trash', { field: 'parent_thread_id' });
      }
      await this.store.readMessage(ns, 'thread', thread.parent.threadId, thread.parent.messageId).catch((e: unknown) => {
        if (e instanceof AppError && e.id === 'NOT_FOUND') {
          throw new AppError('NOT_FOUND', 'parent_message_id: no message by that id in the parent thread', { field: 'parent_message_id' });
        }
        throw e;
      });
    }
    return this.store.createContainer(ns, kind, { id: this.newId(), groupId, topic, metadata, ...thread });
  }

  /** NOT_FOUND when absent, or when `groupId` is given and differs; with `userId`, that user's unread count. Threads come with their participants. */
  async read(ns: string, kind: Kind, id: string, groupId?: string, userId?: string): Promise<Container> {
    const [c, whole] = await Promise.all([
      userId ? this.store.summary(ns, kind, id, { userId, lastMessage: kind === 'chat' }) : this.store.getWhole(ns, kind, id),
      userId && kind === 'thread' ? this.store.getWhole(ns, kind, id) : undefined,
    ]);
    if (!c || (groupId !== undefined && groupId !== '' && c.groupId !== groupId)) throw notFound(kind);
    if (whole) c.participants = whole.participants;
    return c;
  }

  /** Threads: adds or replaces participants (README, "A richer thread"). */
  addParticipants(ns: string, id: string, participants: NewParticipant[]): Promise<Container> {
    return this.store.changeParticipants(ns, id, { add: participants });
  }

  removeParticipants(ns: string, id: string, participantIds: string[]): Promise<Container> {
    return this.store.changeParticipants(ns, id, { remove: participantIds });
  }

  listParticipants(ns: string, id: string, page: { limit: number; cursor?: KeysetCursor }): Promise<Page<Participant>> {
    return this.store.listParticipants(ns, id, page);
  }

  /** Threads: the trash. Repeating either changes nothing; NOT_FOUND for an absent thread. */
  async trash(ns: string, id: string, op: 'trash' | 'restore'): Promise<Container> {
    const t = await this.store.trashThread(ns, id, op);
    const whole = await this.store.getWhole(ns, 'thread', id);
    t.participants = whole?.participants ?? [];
    return t;
  }

  purge(ns: string, id: string): Promise<void> {
    return this.store.purgeThread(ns, id);
  }

  /** A new topic (unless "") and metadata merged in (an empty value removes its key). */
  update(ns: string, kind: Kind, id: string, change: { topic: string; metadata?: Metadata }): Promise<Container> {
    return this.store.updateContainer(ns, kind, id, change);
  }

  /** Edit, delete, restore or purge one message (README, "Edit, delete, restore, purge"). */
  changeMessage(ns: string, kind: Kind, containerId: string, messageId: string, change: MessageChange): Promise<Message> {
    return this.store.changeMessage(ns, kind, containerId, messageId, change);
  }

  readMessage(ns: string, kind: Kind, containerId: string, messageId: string): Promise<Message> {
    return this.store.readMessage(ns, kind, containerId, messageId);
  }

  /** Moves a user's read pointer forward (README, "Inboxes and read state"). */
  markRead(ns: string, kind: Kind, id: string, userId: string, messageId: string): Promise<Container> {
    return this.store.markRead(ns, kind, id, userId, messageId);
  }

  /** A chat with its last message, and the user's unread count when `userId` is given. */
  async readChat(ns: string, id: string, userId: string): Promise<Container> {
    const c = await this.store.summary(ns, 'chat', id, { userId: userId || undefined, lastMessage: true });
    if (!c) throw notFound('chat');
    return c;
  }

  /** A user's containers with unread messages (their chats, or a group's containers they read in). */
  unread(ns: string, kind: Kind, userId: string, groupId: string): Promise<Container[]> {
    return this.store.unread(ns, kind, userId, groupId, this.limits.GET_UNREAD_MAX_CONTAINERS);
  }

  /** A user's chats, most recent activity first. */
  listChats(ns: string, userId: string, page: ContainerPage): Promise<Page<Container>> {
    return this.slotted(ns, this.mostBytes(page.limit, 'messages'), () => this.store.listInbox(ns, userId, page));
  }

  delete(ns: string, kind: Kind, id: string): Promise<void> {
    return this.store.deleteContainer(ns, kind, id);
  }

  list(ns: string, kind: Kind, groupId: string, page: ContainerPage): Promise<Page<Container>> {
    return this.slotted(ns, this.mostBytes(page.limit, 'containers'), () => this.store.listGroup(ns, kind, groupId, page));
  }

  /** `id` empty: the service picks one. Otherwise a repeat returns the stored message unchanged. */
  async post(ns: string, kind: Kind, containerId: string, m: { id: string; authorId: string; text: string; metadata?: Metadata }): Promise<Message> {
    await this.throttle?.container(ns, kind, containerId);
    const clientId = m.id !== '';
    return this.store.appendMessage(ns, kind, containerId, {
      id: clientId ? m.id : this.newId(),
      clientId,
      authorId: m.authorId,
      text: m.text,
      metadata: m.metadata ?? {},
      membersOnly: kind === 'chat' && this.chatsMembersOnly,
    });
  }

  /** A page of one container's messages; over MAX_REPLY_BYTES (counted by the store as it reads) it names `limit`. */
  async messages(ns: string, kind: Kind, containerId: string, q: Omit<MessageQuery, 'budget'>): Promise<MessagePage> {
    try {
      return await this.sized(ns, this.mostBytes(q.limit, 'messages'), (budget, large) => this.store.listMessages(ns, kind, containerId, { ...q, budget, large }));
    } catch (e) {
      if (e instanceof ReplyTooLarge) throw this.tooLarge('limit');
      throw e;
    }
  }

  /**
   * The latest `perContainer` messages of each listed container, newest first,
   * container by container in the order given; absent (and repeated) ids are
   * skipped. Containers are read RECENT_BATCH at a time so that a reply over
   * MAX_REPLY_BYTES (named by `perField`) is refused before it is all in memory.
   */
  async recent(ns: string, kind: Kind, ids: readonly string[], perContainer: number, perField: string, include: Inclusion = 'visible'): Promise<Message[]> {
    try {
      return await this.sized(ns, this.mostBytes(ids.length * perContainer, 'messages'), (budget, large) =>
        this.recentWithin(ns, kind, ids, perContainer, include, budget, large),
      );
    } catch (e) {
      if (e instanceof ReplyTooLarge) throw this.tooLarge(perField);
      throw e;
    }
  }

  /**
   * Containers are read RECENT_BATCH at a time, each with an equal share of
   * what is left of the budget, so a batch never reads more than the budget
   * as a whole; a container over its share is read again alone with all that
   * is left. So no reply is built past the budget (counted by the store as it
   * reads: ReplyTooLarge), and a refused one is refused without reading much more.
   */
  private async recentWithin(ns: string, kind: Kind, ids: readonly string[], perContainer: number, include: Inclusion, budget: number, large: boolean): Promise<Message[]> {
    const unique = [...new Set(ids.filter((id) => id !== ''))];
    const out: Message[][] = [];
    let bytes = 0;
    const read = (id: string, budget: number) =>
      this.store.listMessages(ns, kind, id, { limit: perContainer, offset: 0, order: 'desc', budget, include, large }).catch((e: unknown) => {
        // Absent containers are skipped.
        if (e instanceof AppError && e.id === 'NOT_FOUND') return null;
        if (e instanceof ReplyTooLarge) return 'over' as const;
        throw e;
      });
    for (let i = 0; i < unique.length; i += RECENT_BATCH) {
      const batch = unique.slice(i, i + RECENT_BATCH);
      const share = Math.floor((budget - bytes) / batch.length);
      const pages = await Promise.all(batch.map((id) => read(id, share)));
      for (const p of pages) if (p && p !== 'over') bytes += p.bytes;
      for (let j = 0; j < batch.length; j++) {
        let p = pages[j];
        if (p === 'over') {
          p = await read(batch[j], budget - bytes);
          if (p === 'over') throw new ReplyTooLarge();
          if (p) bytes += p.bytes;
        }
        if (p) out[i + j] = p.items;
      }
    }
    return out.flat();
  }

  /** RecentMessages over a group: its newest MAX_RECENT_CONTAINERS containers. */
  async recentInGroup(ns: string, kind: Kind, groupId: string, perContainer: number, perField: string, include: Inclusion = 'visible'): Promise<Message[]> {
    const page = { limit: this.limits.MAX_RECENT_CONTAINERS, offset: 0, order: 'desc' as const };
    try {
      return await this.sized(ns, this.mostBytes(this.limits.MAX_RECENT_CONTAINERS * perContainer, 'messages'), async (budget, large) => {
        const containers = await this.store.listGroup(ns, kind, groupId, page);
        return this.recentWithin(ns, kind, containers.items.map((c) => c.id), perContainer, include, budget, large);
      });
    } catch (e) {
      if (e instanceof ReplyTooLarge) throw this.tooLarge(perField);
      throw e;
    }
  }

  private tooLarge(field: string): AppError {
    const max = this.limits.MAX_REPLY_BYTES;
    return new AppError('INVALID_ARGUMENT', `the reply would hold more than ${max} bytes of messages (MAX_REPLY_BYTES); ask for fewer with ${field}`, {
      field,
    });
  }

  /**
   * The chat of a set of users: two or more distinct ids, any order. A given
   * `id` that names an existing chat returns that chat.
   */
  async createChat(ns: string, userIds: readonly string[], id: string, metadata: Metadata = {}): Promise<Container> {
    const users = [...new Set(userIds)].sort(compareCodePoints);
    if (users.length < 2) {
      throw new AppError('INVALID_ARGUMENT', 'user_ids must hold two or more distinct users', { field: 'user_ids' });
    }
    if (id !== '') {
      const existing = await this.store.getContainer(ns, 'chat', id);
      if (existing) return existing;
    }
    return this.store.chatForUsers(ns, users, id === '' ? this.newId() : id, metadata);
  }
}

/**
 * Reads that may answer more than this are large: they take a slot of their
 * namespace (read-slots.ts). With the default limits: a message list of more
 * than 61 messages, a container list of more than 655 containers.
 */
export const LARGE_READ_BYTES = 1024 * 1024;

/** Containers RecentMessages reads at once. */
const RECENT_BATCH = 16;


/** Sort by Unicode code point, the same in every runtime and locale (unlike localeCompare). */
export function compareCodePoints(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return Buffer.compare(x, y);
}
