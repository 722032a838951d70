/**
 * Wake-ups for the live feed over Redis sharded pub/sub, on one connection
 * per service instance (not one per subscriber). A container's channel is its
 * feed key and a user's is their chat index key (keys.ts), so on a Redis
 * Cluster each channel lives on the node that owns the container and the
 * write script publishes to it in its own slot.
 *
 * Pub/sub may drop a message while disconnected; the feed stream is the
 * truth. This connection does not resubscribe by itself after a drop: it
 * reports `down`, the hub ends every subscription (UNAVAILABLE, callers
 * resume from their cursors), and later subscriptions watch afresh.
 */
import { Cluster, Redis } from 'ioredis';
import type { ChangeType, Wake, WakeSource, WakeTopic } from '../core/model';
import { containerKeys, userChatsKey } from './keys';
import { decodeMessage } from './record';
import type { RedisStoreOptions } from './redis-store';

export function channelOf(t: WakeTopic): string {
  return 'userId' in t ? userChatsKey(t.ns, t.userId) : containerKeys(t.ns, t.kind, t.id).feed;
}

export class RedisWake implements WakeSource {
  private readonly handlers = new Map<string, (payload: string) => void>();

  /** A container wake-up, "pos\ntype\nid\nseq\nms\nrecord" (lua/includes/feed.lua), as a Wake. */
  private static containerWake(containerId: string, payload: string): Wake {
    const at: number[] = [];
    for (let i = 0, from = 0; i < 5; i++) {
      const nl = payload.indexOf('\n', from);
      if (nl < 0) return { position: Number(payload.slice(0, at[0] ?? payload.length)) };
      at.push(nl);
      from = nl + 1;
    }
    const [a, b, c, d, e] = at;
    return {
      position: Number(payload.slice(0, a)),
      entry: {
        position: Number(payload.slice(0, a)),
        type: payload.slice(a + 1, b) as ChangeType,
        message: decodeMessage(containerId, payload.slice(b + 1, c), payload.slice(c + 1, d), payload.slice(e + 1)),
        acceptedMs: Number(payload.slice(d + 1, e)),
      },
    };
  }
  private readonly listeners: ((state: 'up' | 'down') => void)[] = [];
  private up = false;

  private constructor(private readonly sub: Redis | Cluster) {
    sub.on('smessage', (channel: string, payload: string) => this.handlers.get(channel)?.(payload));
    sub.on('ready', () => this.report('up'));
    sub.on('close', () => this.report('down'));
    sub.on('error', () => undefined);
  }

  static async connect(opts: RedisStoreOptions): Promise<RedisWake> {
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      disconnectTimeout: 200,
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
    };
    const sub = opts.clusterNodes?.length
      ? new Cluster(opts.clusterNodes, { redisOptions: common, shardedSubscribers: true, enableOfflineQueue: false, lazyConnect: true })
      : opts.socket
        ? new Redis({ ...common, path: opts.socket })
        : new Redis(opts.url ?? 'redis://127.0.0.1:6379', common);
    const wake = new RedisWake(sub);
    await sub.connect();
    wake.up = true;
    return wake;
  }

  private report(state: 'up' | 'down'): void {
    if ((state === 'up') === this.up) return;
    this.up = state === 'up';
    // Nothing is subscribed after a drop (no automatic resubscribe): forget every handler.
    if (state === 'down') this.handlers.clear();
    for (const f of this.listeners) f(state);
  }

  async watch(topic: WakeTopic, onWake: (wake: Wake) => void): Promise<void> {
    const channel = channelOf(topic);
    this.handlers.set(channel, 'userId' in topic ? (p) => onWake({ chatId: p }) : (p) => onWake(RedisWake.containerWake(topic.id, p)));
    try {
      await this.sub.ssubscribe(channel);
    } catch (err) {
      this.handlers.delete(channel);
      throw err;
    }
  }

  unwatch(topic: WakeTopic): void {
    const channel = channelOf(topic);
    if (!this.handlers.delete(channel)) return;
    if (this.up) this.sub.sunsubscribe(channel).catch(() => undefined);
  }

  onReset(f: (state: 'up' | 'down') => void): void {
    this.listeners.push(f);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.sub.disconnect(false);
  }
}
