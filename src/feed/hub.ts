/**
 * The live feed's fan-out in one service instance (README, "The live
 * feed"). Each container followed by at least one local subscriber has one
 * Channel: one wake-up subscription (sharded pub/sub, shared by the whole
 * instance), one read of the feed per wake-up, and the events it read handed
 * to every local subscriber, the same objects to all. The feed stream is the
 * truth and wake-ups only say "look again", so any number of wake-ups read
 * each event once, in order.
 */
import { AppError } from '../core/errors';
import type { FeedEntry, FeedStore, Kind, WakeSource } from '../core/model';
import type { Logger } from '../log';
import { feedMetrics } from '../metrics/service';

/** What the hub hands a subscriber. */
export type HubEvent = FeedEntry & { containerId: string };

/** What a subscriber is to the hub. */
export interface Follower {
  /** Events of a followed container, in feed order, from the channel's position on. */
  push(e: HubEvent): void;
  /** The container's events from `position` on could not be read in order: read them from the store. */
  lost(containerId: string): void;
  /** A new chat of a followed user. */
  newChat?(chatId: string): void;
  /** The subscription cannot go on (the wake-up connection dropped, the instance stops). */
  end(err: AppError): void;
}

/** Events read from the store per round trip. */
export const FEED_BATCH = 256;

class Channel {
  readonly followers = new Set<Follower>();
  /** The last position read; undefined until the channel has started. */
  position: number | undefined;
  /** The highest position a wake-up named before the start. */
  private pending = 0;
  private reading = false;
  private again = false;
  /** Settles once wake-ups flow and `position` is set. */
  ready!: Promise<void>;

  constructor(
    private readonly store: FeedStore,
    readonly ns: string,
    readonly kind: Kind,
    readonly id: string,
    private readonly log: Logger,
  ) {}

  /**
   * A wake-up: the feed reached `position`. The next event, when the wake-up
   * carries it, is handed on at once; anything else is read from the feed.
   */
  wake(position: number, entry?: FeedEntry): void {
    if (this.position === undefined) {
      // Not started: the start reads the feed's head, and reads again if a wake-up went past it.
      this.pending = Math.max(this.pending, position);
      return;
    }
    if (position <= this.position) return;
    if (!this.reading && entry && position === this.position + 1) {
      this.deliver(entry);
      return;
    }
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.read();
  }

  /** The feed's head when wake-ups began to flow; a wake-up already past it makes the channel read. */
  start(head: number): void {
    this.position = head;
    if (this.pending > head) this.wake(this.pending);
  }

  private deliver(e: FeedEntry): void {
    const event: HubEvent = { ...e, containerId: this.id };
    for (const f of this.followers) f.push(event);
    this.position = e.position;
  }

  private async read(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.again = false;
        for (;;) {
          const r = await this.store.readFeed(this.ns, this.kind, this.id, this.position!, FEED_BATCH);
          if (r.resync) {
            // Fell further behind than the feed keeps (or the container was made again):
            // each follower reads on from its own position and learns what it lost.
            this.position = r.last;
            for (const f of this.followers) f.lost(this.id);
            break;
          }
          for (const e of r.entries) this.deliver(e);
          if (r.entries.length === 0 || this.position! >= r.last) break;
        }
      } while (this.again);
    } catch (err) {
      // The store could not be read (Redis down, container deleted): followers read for
      // themselves from their positions; a store that stays down ends them there.
      if (!(err instanceof AppError)) this.log.error({ err }, 'feed read failed');
      for (const f of this.followers) f.lost(this.id);
    } finally {
      this.reading = false;
    }
  }
}

export class Hub {
  private readonly channels = new Map<string, Channel>();
  private readonly users = new Map<string, Set<Follower>>();
  private readonly everyone = new Set<Follower>();
  private closed = false;

  constructor(
    private readonly store: FeedStore,
    private readonly wake: WakeSource,
    private readonly log: Logger,
  ) {
    wake.onReset((state) => {
      if (state === 'down') this.endAll(new AppError('UNAVAILABLE', 'the live feed lost its connection to the store; resume from the last cursor'));
    });
  }

  /** Subscribers of this instance (a gauge). */
  get size(): number {
    return this.everyone.size;
  }

  join(f: Follower): void {
    if (this.closed) throw new AppError('UNAVAILABLE', 'the service is stopping');
    this.everyone.add(f);
    feedMetrics.open.set(this.everyone.size);
  }

  leave(f: Follower): void {
    this.everyone.delete(f);
    feedMetrics.open.set(this.everyone.size);
  }

  /**
   * Follows a container: resolves with the channel's position once its
   * wake-ups flow. Every event after that position reaches `f`; `f` reads
   * from the store whatever lies before.
   */
  async follow(f: Follower, ns: string, kind: Kind, id: string): Promise<void> {
    const key = `${kind}\u0000${ns}\u0000${id}`;
    let ch = this.channels.get(key);
    if (!ch) {
      const c = new Channel(this.store, ns, kind, id, this.log);
      ch = c;
      this.channels.set(key, c);
      c.ready = (async () => {
        await this.wake.watch({ ns, kind, id }, (w) => {
          if ('position' in w) c.wake(w.position, w.entry);
        });
        c.start((await this.store.readFeed(ns, kind, id, 0, 0)).last);
        // Anything accepted between the watch and that read is behind `position`: the followers read it.
      })();
      c.ready.catch(() => {
        if (this.channels.get(key) === c) this.drop(key, c);
      });
    }
    ch.followers.add(f);
    try {
      await ch.ready;
    } catch (err) {
      ch.followers.delete(f);
      throw storeError(err);
    }
  }

  unfollow(f: Follower, ns: string, kind: Kind, id: string): void {
    const key = `${kind}\u0000${ns}\u0000${id}`;
    const ch = this.channels.get(key);
    if (!ch) return;
    ch.followers.delete(f);
    if (ch.followers.size === 0) this.drop(key, ch);
  }

  private drop(key: string, ch: Channel): void {
    this.channels.delete(key);
    this.wake.unwatch({ ns: ch.ns, kind: ch.kind, id: ch.id });
  }

  /** Follows a user's new chats (Chats.Subscribe by user_id). */
  async followUser(f: Follower, ns: string, userId: string): Promise<void> {
    const key = `${ns}\u0000${userId}`;
    let set = this.users.get(key);
    if (!set) {
      const s = new Set<Follower>();
      set = s;
      this.users.set(key, s);
      try {
        await this.wake.watch({ ns, userId }, (w) => {
          if ('chatId' in w) for (const x of s) x.newChat?.(w.chatId);
        });
      } catch (err) {
        this.users.delete(key);
        throw storeError(err);
      }
    }
    set.add(f);
  }

  unfollowUser(f: Follower, ns: string, userId: string): void {
    const key = `${ns}\u0000${userId}`;
    const set = this.users.get(key);
    if (!set) return;
    set.delete(f);
    if (set.size === 0) {
      this.users.delete(key);
      this.wake.unwatch({ ns, userId });
    }
  }

  /** Ends every subscription (SIGTERM: callers resume on another instance). */
  close(): void {
    this.closed = true;
    this.endAll(new AppError('UNAVAILABLE', 'the service is stopping; resume from the last cursor'));
  }

  private endAll(err: AppError): void {
    for (const f of [...this.everyone]) f.end(err);
    for (const [key, ch] of this.channels) this.drop(key, ch);
    this.users.clear();
  }
}

function storeError(err: unknown): AppError {
  return err instanceof AppError ? err : new AppError('UNAVAILABLE', undefined);
}
