/**
 * One subscriber of the live feed. It keeps, per container, the position of
 * the last event it handed on, and hands on only the next one: events come
 * from the hub as they are accepted, and from the store whenever the
 * subscriber is behind (a replay after a cursor, a new chat, a wake-up it
 * could not take in order). Both sources read the same stream, so an event
 * seen twice is dropped by its position and a gap is read from the store:
 * no gap, no duplicate, in feed order per container.
 *
 * Until the `live` event the hub's events wait in a queue, and if more than
 * FEED_MAX_BUFFERED_EVENTS pile up the queue is dropped and every container
 * read from the store instead (the replay never counts as slow). After
 * `live`, a queue that reaches the limit ends the subscription with
 * SLOW_CONSUMER: memory never grows with a subscriber that stopped reading.
 */
import { AppError } from '../core/errors';
import type { FeedEntry, FeedStore, Kind } from '../core/model';
import { feedMetrics } from '../metrics/service';
import { FEED_BATCH, type Follower, type Hub, type HubEvent } from './hub';

export type FeedItem =
  | { type: 'event'; containerId: string; entry: FeedEntry; shared?: HubEvent }
  | { type: 'resync_required'; containerId: string; position: number }
  | { type: 'live' };

export interface SubscriptionSpec {
  ns: string;
  kind: Kind;
  /** The containers asked for by id (empty when following a user's chats). */
  ids: readonly string[];
  /** Chats: every chat of this user, and each new one. */
  userId?: string;
  /** Positions to resume after, once the containers are known (cursors are checked against them). */
  startAfter(containers: readonly string[]): Map<string, number>;
  maxBuffered: number;
  maxUserChats: number;
}

export class Subscription implements Follower {
  /** The position of the last event handed on, per followed container. */
  readonly positions = new Map<string, number>();
  private readonly behind = new Set<string>();
  private queue: HubEvent[] = [];
  private head = 0;
  private live = false;
  private aborted = false;
  private failure?: AppError;
  private notify?: () => void;
  private readonly newChats: string[] = [];

  constructor(
    private readonly hub: Hub,
    private readonly store: FeedStore,
    private readonly spec: SubscriptionSpec,
    private readonly signal: AbortSignal,
  ) {}

  push(e: HubEvent): void {
    if (this.failure) return;
    if (this.queue.length - this.head >= this.spec.maxBuffered) {
      if (this.live) {
        feedMetrics.slowConsumers.inc();
        this.end(new AppError('SLOW_CONSUMER', `${this.spec.maxBuffered} events are waiting for this subscriber; resume from the last cursor`));
        return;
      }
      // Still replaying: read everything from the store instead of holding it here.
      this.queue = [];
      this.head = 0;
      for (const c of this.positions.keys()) this.behind.add(c);
    } else {
      this.queue.push(e);
    }
    this.wakeUp();
  }

  lost(containerId: string): void {
    if (this.positions.has(containerId)) this.behind.add(containerId);
    this.wakeUp();
  }

  newChat(chatId: string): void {
    if (!this.positions.has(chatId)) this.newChats.push(chatId);
    this.wakeUp();
  }

  end(err: AppError): void {
    this.failure ??= err;
    this.queue = [];
    this.head = 0;
    this.wakeUp();
  }

  private wakeUp(): void {
    const n = this.notify;
    this.notify = undefined;
    n?.();
  }

  async *items(): AsyncGenerator<FeedItem> {
    const { ns, kind } = this.spec;
    // Kept as a field: AbortSignal#aborted checks its receiver on every read, and this loop runs per event.
    this.aborted = this.signal.aborted;
    const onAbort = () => {
      this.aborted = true;
      this.wakeUp();
    };
    this.signal.addEventListener('abort', onAbort);
    this.hub.join(this);
    try {
      await this.start();
      for (;;) {
        if (this.failure) throw this.failure;
        if (this.aborted) return;
        const chat = this.newChats.length > 0 ? this.newChats.shift() : undefined;
        if (chat !== undefined) {
          if (this.positions.has(chat)) continue;
          if (this.positions.size >= this.spec.maxUserChats) {
            throw new AppError('UNAVAILABLE', 'this user now has more chats than one subscription follows (FEED_MAX_USER_CHATS); subscribe again to follow the newest');
          }
          // A new chat: all of it, from its first event.
          this.positions.set(chat, 0);
          await this.hub.follow(this, ns, kind, chat);
          this.behind.add(chat);
          continue;
        }
        if (this.behind.size > 0) {
          yield* this.readBehind(this.behind.values().next().value!);
          continue;
        }
        if (!this.live) {
          this.live = true;
          yield { type: 'live' };
          continue;
        }
        if (this.head < this.queue.length) {
          const e = this.queue[this.head++];
          if (this.head === this.queue.length) {
            this.queue = [];
            this.head = 0;
          }
          const at = this.positions.get(e.containerId);
          if (at === undefined || e.position <= at) continue;
          if (e.position > at + 1) {
            this.behind.add(e.containerId);
            continue;
          }
          this.positions.set(e.containerId, e.position);
          feedMetrics.delivered.inc();
          feedMetrics.lag.observe(Math.max(0, Date.now() - e.acceptedMs) / 1000);
          yield { type: 'event', containerId: e.containerId, entry: e, shared: e };
          continue;
        }
        await new Promise<void>((done) => (this.notify = done));
      }
    } finally {
      this.signal.removeEventListener('abort', onAbort);
      for (const c of this.positions.keys()) this.hub.unfollow(this, ns, kind, c);
      if (this.spec.userId !== undefined) this.hub.unfollowUser(this, ns, this.spec.userId);
      this.hub.leave(this);
    }
  }

  /** Follows every container, then learns where each one starts; NOT_FOUND before any event. */
  private async start(): Promise<void> {
    const { ns, kind, userId } = this.spec;
    let ids = this.spec.ids;
    if (userId !== undefined) {
      // The user's channel first: a chat made while the list is read is announced, not missed.
      await this.hub.followUser(this, ns, userId);
      ids = await this.store.userChats(ns, userId, this.spec.maxUserChats);
    }
    const after = this.spec.startAfter(ids);
    for (const id of ids) this.positions.set(id, 0);
    await Promise.all(ids.map((id) => this.hub.follow(this, ns, kind, id)));
    const heads = await Promise.all(
      ids.map((id) =>
        this.store.readFeed(ns, kind, id, 0, 0).catch((err: unknown) => {
          // A chat in the user's index that is gone (deleted) is skipped; a named container is NOT_FOUND.
          if (userId !== undefined && err instanceof AppError && err.id === 'NOT_FOUND') return undefined;
          throw err;
        }),
      ),
    );
    ids.forEach((id, i) => {
      const head = heads[i];
      if (!head) {
        this.positions.delete(id);
        this.hub.unfollow(this, ns, kind, id);
        return;
      }
      const from = after.get(id);
      if (from === undefined) {
        this.positions.set(id, head.last);
      } else {
        this.positions.set(id, from);
        this.behind.add(id);
      }
    });
  }

  /** One read of a container the subscriber is behind on. */
  private async *readBehind(c: string): AsyncGenerator<FeedItem> {
    const { ns, kind } = this.spec;
    const at = this.positions.get(c)!;
    let r;
    try {
      r = await this.store.readFeed(ns, kind, c, at, FEED_BATCH);
    } catch (err) {
      if (err instanceof AppError && err.id === 'NOT_FOUND') {
        // Deleted while followed: nothing more will come from it.
        this.behind.delete(c);
        return;
      }
      throw err;
    }
    if (r.resync) {
      this.behind.delete(c);
      this.positions.set(c, r.last);
      yield { type: 'resync_required', containerId: c, position: r.last };
      return;
    }
    for (const e of r.entries) {
      if (e.position <= this.positions.get(c)!) continue;
      this.positions.set(c, e.position);
      feedMetrics.delivered.inc();
      yield { type: 'event', containerId: c, entry: e };
      if (this.failure || this.aborted) return;
    }
    if (r.entries.length === 0 || this.positions.get(c)! >= r.last) this.behind.delete(c);
  }
}
