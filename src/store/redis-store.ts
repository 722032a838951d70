/**
 * The Redis implementation of the core's ContainerStore. It alone knows key
 * names (keys.ts) and scripts (lua/); it turns script replies into the core's
 * model and client failures into UNAVAILABLE.
 */
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import { AppError, ReplyTooLarge } from '../core/errors';
import { defaultLimits, type Limits } from '../core/limits';
import type {
  Container,
  ContainerPage,
  ContainerStore,
  FeedEntry,
  FeedRead,
  FeedStore,
  Kind,
  ChangeType,
  MessageChange,
  Metadata,
  Nanos,
  Message,
  MessagePage,
  MessageQuery,
  Page,
  NewMessage,
  NewContainer,
  NewParticipant,
  Participant,
  KeysetCursor,
  ThreadFilter,
  RateLimiter,
  RateScope,
} from '../core/model';
import { randomBytes } from 'node:crypto';
import { chatSetKey, containerKeys, groupKeys, namespaceRateKey, SECRET_KEY, userChatsKey, userReadIndexKey, type ContainerKeys, type GroupKeys } from './keys';
import { storeOpLatency } from '../metrics/service';
import { isTimeout, isUnreachable } from './redis-errors';
import {
  decodeContainer,
  decodeMessage,
  decodeMessageBytes,
  decodeParticipant,
  decodeParticipants,
  decodeSummaryFields,
  encodeMetadata,
  encodeNewMessage,
  encodeParticipant,
  META,
  outcome,
  SUMMARY_FIELDS,
  type Outcome,
} from './record';
import { defineScripts, type ScriptedRedis, type ScriptCommands } from './scripts';
import { ActivityBatch } from './activity-batch';
import { filteredPage } from './filtered-page';
import { lightPipelines } from './light-pipelines';

export interface RedisStoreOptions {
  /** redis://host:port/db, or cluster seeds when `clusterNodes` is set. */
  url?: string;
  /** A unix socket instead of `url` (the embedded Redis). */
  socket?: string;
  clusterNodes?: { host: string; port: number }[];
  /** Every Redis command fails after this long (the store then answers UNAVAILABLE). */
  commandTimeoutMs: number;
  /** FEED_RETENTION_EVENTS: events kept per container feed. */
  feedRetention?: number;
  /** The metadata limits the scripts check on merged maps (default: the documented ones). */
  limits?: Pick<Limits, 'MAX_METADATA_KEYS' | 'MAX_METADATA_BYTES'> & Partial<Pick<Limits, 'MAX_PARTICIPANTS'>>;
}

/**
 * Threads an updated_after / updated_before range may propose from the group's update order; a
 * wider range walks the smallest other index (or the group's order), each thread checked.
 */
const UPDATED_CANDIDATES_MAX = 1000;

/** How far past a thread's creation time (µs) its creation score may lie (groupAdd-2; clocks of a cluster's nodes). */
const CREATION_SCORE_SLACK_US = 60_000_000;

/** Whether a filter is given (README, "A richer thread"). */
function hasFilter(f: ThreadFilter | undefined): boolean {
  return f !== undefined && Object.values(f).some((v) => v !== undefined);
}

/** a > b for two ns times (decimal strings). */
function nanosAfter(a: Nanos, b: Nanos): boolean {
  return BigInt(a || '0') > BigInt(b || '0');
}

function pageWalk(page: ContainerPage): { order: 'asc' | 'desc'; limit: number; offset: number; cursor?: KeysetCursor } {
  return { order: page.order, limit: page.limit, offset: page.offset, cursor: page.cursor };
}

/** Containers whose group the store keeps for in-script activity writes (about 100 bytes each). */
const GROUP_CACHE_ENTRIES = 10_000;

/** Bytes of message records one feed read carries (the read stops after the event that passes it). */
const FEED_READ_BYTES = 1 << 20;
/**
 * Readers whose read index a delete cleans before it returns (about: past this a scan step
 * picks them). More would make a delete's cost grow with its readers; the other entries are
 * stale ones that GetUnread skips and removes when it meets them (README, "How the data is kept").
 */
const READERS_CLEANED_AT_DELETE = 1000;

/** Messages of a large page decoded between two turns of the event loop (up to ~130 KiB of records; README, "Fairness"). */
const DECODE_SLICE = 8;

/** How many times a large page is picked again when its container changed between the two steps (`largePage`). */
const LARGE_PAGE_TRIES = 3;

/** listMessages' keys and arguments. */
type ListArgs = Parameters<ScriptCommands['listMessages']>;

export class RedisStore implements ContainerStore, FeedStore, RateLimiter {
  /** Group activity orders, one ZADD GT per order per event-loop turn (activity-batch.ts). */
  private readonly activity = new ActivityBatch((key, args) => this.redis.zadd(key, 'GT', ...args));
  /**
   * On one Redis (no slots to respect) the append script moves the container in its group's
   * activity order itself, saving a command and a round trip per message; it needs the group
   * before it runs, so the groups of containers seen lately are kept here (a container's group
   * never changes, and the script checks the guess). On a cluster the order is a follow-up.
   */
  private readonly groupOf: Map<string, string> | undefined;

  private constructor(
    readonly redis: ScriptedRedis,
    /**
     * A second connection for large reads (MessageQuery.large): a 4 MiB page travels on it,
     * so the cheap calls on `redis` never wait behind one in the socket or ioredis's parser
     * (README, "Fairness").
     */
    private readonly bulk: ScriptedRedis,
    private readonly opTimeoutMs: number,
    readonly feedRetention: number,
    private readonly metadataLimits: { keys: number; bytes: number },
    /** How to open another connection like this one (the wake-up subscriber). */
    readonly options: RedisStoreOptions,
  ) {
    this.groupOf = options.clusterNodes?.length ? undefined : new Map();
    this.maxParticipants = options.limits?.MAX_PARTICIPANTS ?? defaultLimits.MAX_PARTICIPANTS;
  }

  private readonly maxParticipants: number;

  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const common: RedisOptions = {
      lazyConnect: true,
      // Fail fast while disconnected instead of queueing: callers get UNAVAILABLE and can retry.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: 5000,
      // ioredis arms this timer on disconnect even when the socket is already closed,
      // and it holds the process open that long after close().
      disconnectTimeout: 200,
      retryStrategy: (times) => Math.min(50 * times, 1000),
    };
    const open = async () => {
      // Auto-pipelining, on pipelines a scavenge can collect (light-pipelines.ts).
      const client = lightPipelines(
        opts.clusterNodes?.length
          ? new Cluster(opts.clusterNodes, { redisOptions: common, enableOfflineQueue: false, enableAutoPipelining: true, lazyConnect: true })
          : opts.socket
            ? new Redis({ ...common, path: opts.socket, enableAutoPipelining: true })
            : new Redis(opts.url ?? 'redis://127.0.0.1:6379', { ...common, enableAutoPipelining: true }),
      );
      // ioredis reports connection errors as events as well as rejections; the
      // rejections are what callers see, so the events need no listener output.
      client.on('error', () => undefined);
      await client.connect();
      return defineScripts(client);
    };
    const [client, bulk] = await Promise.all([open(), open()]);
    return new RedisStore(client, bulk, opts.commandTimeoutMs, opts.feedRetention ?? defaultLimits.FEED_RETENTION_EVENTS, {
      keys: opts.limits?.MAX_METADATA_KEYS ?? defaultLimits.MAX_METADATA_KEYS,
      bytes: opts.limits?.MAX_METADATA_BYTES ?? defaultLimits.MAX_METADATA_BYTES,
    }, opts);
  }

  /** QUIT when connected (replies already sent are flushed); otherwise stop reconnecting at once. */
  async close(): Promise<void> {
    await Promise.all([this.redis, this.bulk].map(async (c) => {
      if (c.status === 'ready') {
        try {
          await c.quit();
          return;
        } catch {
          // fall through to a hard disconnect
        }
      }
      c.disconnect(false);
    }));
  }

  createContainer(ns: string, kind: Kind, c: NewContainer): Promise<Container> {
    return this.guard('createContainer', async () => {
      const k = containerKeys(ns, kind, c.id);
      const [record, participants] = outcome(
        kind,
        await this.redis.createContainer(
          k.meta,
          k.participants,
          k.joinOrder,
          c.id,
          c.groupId,
          c.topic,
          '',
          encodeMetadata(c.metadata),
          c.createdBy ?? '',
          c.parent?.threadId ?? '',
          c.parent?.messageId ?? '',
          this.maxParticipants,
          ...(c.participants ?? []).flatMap((p) => [p.id, encodeParticipant(p)]),
        ),
      );
      const created = decodeContainer(kind, record)!;
      if (kind === 'thread') created.participants = decodeParticipants(participants);
      if (kind !== 'chat') this.noteGroup(k.meta, c.groupId);
      // Indexed after the record exists: an index entry without a record can then only be stale.
      const g = groupKeys(ns, kind, c.groupId);
      await Promise.all([this.redis.groupAdd(g.index, g.trash, c.id), this.redis.zadd(g.activity, 'GT', micros(created.createdAt), c.id)]);
      if (kind === 'thread') await Promise.all([this.indexFilters(g, created, created.participants!.map((p) => p.id), 'add', 'create'), this.noteUpdated(ns, created)]);
      return created;
    });
  }

  /**
   * A thread's entries in its group's filter indexes (groupFilter-0, the group's slot), idempotent:
   * 'create' adds it by creator and parent message (or top-level) and for the given participants,
   * 'participants' adds or removes it for the given participants only, 'all' removes it from every
   * order and index of the group (a delete or purge). Entries added take the thread's creation
   * score, so a filtered list pages by the same cursors.
   */
  private async indexFilters(
    g: GroupKeys,
    t: Pick<Container, 'id' | 'createdBy' | 'parentMessageId'>,
    participantIds: readonly string[],
    op: 'add' | 'remove',
    scope: 'create' | 'participants' | 'all',
  ): Promise<void> {
    const own = [t.parentMessageId ? g.byParent(t.parentMessageId) : g.topLevel, ...(t.createdBy ? [g.byCreator(t.createdBy)] : [])];
    const keys = [
      ...(scope === 'all' ? [g.index, g.trash, g.activity, g.trashActivity, g.updated] : []),
      ...(scope === 'participants' ? [] : own),
      ...participantIds.map((p) => g.byParticipant(p)),
    ];
    if (keys.length === 0) return;
    await this.redis.groupFilter(keys.length + 2, g.index, g.trash, ...keys, t.id, op);
  }

  /**
   * A thread's updated_at in its group's update order (ZADD GT, gathered per turn: activity-batch.ts),
   * for the updated_after / updated_before filters. A follow-up in the group's slot: one that a crash
   * cut is repaired by the thread's next change.
   */
  private noteUpdated(ns: string, t: Pick<Container, 'id' | 'groupId' | 'updatedAt'>): Promise<void> {
    return this.activity.touch(groupKeys(ns, 'thread', t.groupId).updated, t.id, Number(micros(t.updatedAt)));
  }

  /** Threads: adds, replaces or removes participants, then their filter indexes (another slot on a cluster). */
  changeParticipants(ns: string, id: string, change: { add: NewParticipant[] } | { remove: string[] }): Promise<Container> {
    return this.guard('changeParticipants', async () => {
      const k = containerKeys(ns, 'thread', id);
      const args = 'add' in change ? change.add.flatMap((p) => [p.id, encodeParticipant(p)]) : change.remove;
      const op = 'add' in change ? 'add' : 'remove';
      const [record, , participants] = outcome('thread', await this.redis.participants(k.meta, k.participants, k.joinOrder, op, this.maxParticipants, ...args));
      const thread = decodeContainer('thread', record)!;
      thread.participants = decodeParticipants(participants);
      // Every id of the call, not only the changed ones: the retry of an interrupted call repairs.
      const ids = 'add' in change ? change.add.map((p) => p.id) : change.remove;
      await Promise.all([this.indexFilters(groupKeys(ns, 'thread', thread.groupId), thread, ids, op, 'participants'), this.noteUpdated(ns, thread)]);
      return thread;
    });
  }

  listParticipants(ns: string, id: string, page: { limit: number; cursor?: KeysetCursor }): Promise<Page<Participant>> {
    return this.guard('listParticipants', async () => {
      const k = containerKeys(ns, 'thread', id);
      const c = page.cursor;
      const [ids, positions, hasMore, followsLast, records] = outcome(
        'thread',
        await this.redis.participantPage(k.meta, k.joinOrder, k.participants, page.limit, c?.dir ?? '', c?.at ?? 0),
      );
      return { items: ids.map((pid, i) => decodeParticipant(pid, records[i])), positions: positions.map(Number), hasMore: hasMore === 1, followsLast: followsLast === 1 };
    });
  }

  /** Threads: into the trash or out, then between the group's live and trash orders (idempotent, repeated on every call). */
  trashThread(ns: string, id: string, op: 'trash' | 'restore'): Promise<Container> {
    return this.guard('trashThread', async () => {
      const [record] = outcome('thread', await this.redis.threadTrash(containerKeys(ns, 'thread', id).meta, op));
      const thread = decodeContainer('thread', record)!;
      const g = groupKeys(ns, 'thread', thread.groupId);
      await Promise.all([this.redis.groupMove(g.index, g.trash, g.activity, g.trashActivity, id, op), this.noteUpdated(ns, thread)]);
      return thread;
    });
  }

  purgeThread(ns: string, id: string): Promise<void> {
    return this.guard('purgeThread', () => this.removeContainer(ns, 'thread', id, 'purge'));
  }

  /** A container as ReadThread shows it: with its participants (threads). */
  getWhole(ns: string, kind: Kind, id: string): Promise<Container | null> {
    return this.guard('getWhole', async () => {
      const k = containerKeys(ns, kind, id);
      if (kind !== 'thread') return decodeContainer(kind, await this.redis.hgetall(k.meta));
      const [meta, order] = await Promise.all([this.redis.hgetall(k.meta), this.redis.zrange(k.joinOrder, 0, -1)]);
      const c = decodeContainer(kind, meta);
      if (!c) return null;
      const records = order.length ? await this.redis.hmget(k.participants, ...order) : [];
      c.participants = order.map((pid, i) => decodeParticipant(pid, records[i] ?? '{}'));
      return c;
    });
  }

  getContainer(ns: string, kind: Kind, id: string): Promise<Container | null> {
    return this.guard('getContainer', async () => {
      return decodeContainer(kind, await this.redis.hgetall(containerKeys(ns, kind, id).meta));
    });
  }

  updateContainer(ns: string, kind: Kind, id: string, change: { topic: string; metadata?: Metadata }): Promise<Container> {
    return this.guard('updateContainer', async () => {
      const meta = containerKeys(ns, kind, id).meta;
      const L = this.metadataLimits;
      const [record] = outcome(kind, await this.redis.updateContainer(meta, change.topic, encodeMetadata(change.metadata), L.keys, L.bytes));
      const updated = decodeContainer(kind, record)!;
      if (kind === 'thread') await this.noteUpdated(ns, updated);
      return updated;
    });
  }

  changeMessage(ns: string, kind: Kind, containerId: string, messageId: string, change: MessageChange): Promise<Message> {
    return this.guard('changeMessage', async () => {
      const k = containerKeys(ns, kind, containerId);
      const [text, metadata] = change.op === 'update' ? [change.text, encodeMetadata(change.metadata)] : ['', ''];
      const L = this.metadataLimits;
      const reply = await this.redis.changeMessage(k.meta, k.order, k.deleted, k.bodies, k.feed, change.op, messageId, text, metadata, this.feedRetention, L.keys, L.bytes);
      const [seq, record, group, updatedAt] = outcome(kind, reply);
      if (kind === 'thread' && group !== undefined && updatedAt) await this.noteUpdated(ns, { id: containerId, groupId: group, updatedAt });
      return decodeMessage(containerId, messageId, seq, record);
    });
  }

  readMessage(ns: string, kind: Kind, containerId: string, messageId: string): Promise<Message> {
    return this.guard('readMessage', async () => {
      const k = containerKeys(ns, kind, containerId);
      const [seq, record] = outcome(kind, await this.redis.readMessage(k.meta, k.order, k.deleted, k.bodies, messageId));
      return decodeMessage(containerId, messageId, seq, record);
    });
  }

  deleteContainer(ns: string, kind: Kind, id: string): Promise<void> {
    return this.guard('deleteContainer', () => this.removeContainer(ns, kind, id, 'delete'));
  }

  /** DeleteThread and the like ('delete'), PurgeThread ('purge'): the record's keys in O(1), then the index entries. */
  private async removeContainer(ns: string, kind: Kind, id: string, mode: 'delete' | 'purge'): Promise<void> {
    const k = containerKeys(ns, kind, id);
    if (kind === 'chat') {
      // A chat's user-set mapping goes first, while it still names this chat: a CreateChat
      // racing the delete then claims a new chat, never the one being deleted (which it would
      // re-create), and an interrupted delete leaves the chat, not a mapping to nothing.
      const users = await this.redis.hget(k.meta, META.users);
      if (users) await this.redis.deleteIfEqual(chatSetKey(ns, JSON.parse(users) as string[]), id);
    }
    const reply = await this.redis.deleteContainer(k.meta, k.order, k.deleted, k.bodies, k.feed, k.reads, k.participants, k.joinOrder, mode, READERS_CLEANED_AT_DELETE);
    const [group, users, createdBy, parentMessageId, participants, readers] = outcome(kind, reply);
    // Threads and conversations: the group's index entries after the record (a stale entry is
    // dropped by the next list that meets it). Chats: each user's index entry (a stale one is
    // skipped by the subscription that meets it).
    if (group !== undefined && kind !== 'chat') {
      const g = groupKeys(ns, kind, group);
      if (kind === 'thread') await this.indexFilters(g, { id, createdBy: createdBy ?? '', parentMessageId: parentMessageId ?? '' }, participants ?? [], 'remove', 'all');
      else await Promise.all([this.redis.zrem(g.index, id), this.redis.zrem(g.activity, id)]);
      // Each reader's index of containers they read in (their own slots), for up to
      // READERS_CLEANED_AT_DELETE readers: GetUnread drops any other stale entry it meets.
      await Promise.all((readers ?? []).map((u) => this.redis.zrem(userReadIndexKey(ns, u, kind, group), id)));
    }
    if (kind === 'chat' && users) await Promise.all((JSON.parse(users) as string[]).map((u) => this.redis.zrem(userChatsKey(ns, u), id)));
  }

  listGroup(ns: string, kind: Kind, groupId: string, page: ContainerPage): Promise<Page<Container>> {
    const g = groupKeys(ns, kind, groupId);
    if (kind === 'thread' && (page.include !== undefined && page.include !== 'live' || hasFilter(page.filter))) {
      return this.guard('listGroup', () => this.threadPage(ns, g, page));
    }
    const index = page.orderBy === 'last_message_at' ? g.activity : g.index;
    // One summaries script for the page on one Redis (one read per container on a cluster).
    const read = (ids: string[]) => this.summaries(ns, kind, ids, { userId: page.userId });
    if (kind !== 'thread') return this.guard('listGroup', () => this.indexPage(kind, index, page, read));
    // A thread whose move to the trash was interrupted is still in the live order: not shown
    // (the retry of SoftDeleteThread moves it).
    return this.guard('listGroup', async () => {
      const p = await this.indexPage(kind, index, page, read);
      const live = p.items.map((c, i) => [c, p.positions[i]] as const).filter(([c]) => c.deletedAt === '');
      return { ...p, items: live.map((x) => x[0]), positions: live.map((x) => x[1]) };
    });
  }

  /**
   * ListThreads with the trash or filters (README, "A richer thread"): a walk over the smallest
   * index that holds every match (filtered-page.ts), each candidate checked on its record.
   */
  private async threadPage(ns: string, g: GroupKeys, page: ContainerPage): Promise<Page<Container>> {
    const f = page.filter ?? {};
    const include = page.include ?? 'live';
    const byActivity = page.orderBy === 'last_message_at';
    const base = {
      live: [byActivity ? g.activity : g.index],
      trash: [byActivity ? g.trashActivity : g.trash],
      all: byActivity ? [g.activity, g.trashActivity] : [g.index, g.trash],
    }[include];
    // Filter indexes share the creation order's scores (the ops refuse filters with last_message_at).
    const indexes = [
      ...(f.participantId !== undefined ? [g.byParticipant(f.participantId)] : []),
      ...(f.createdBy !== undefined ? [g.byCreator(f.createdBy)] : []),
      ...(f.parentMessageId === null ? [g.topLevel] : f.parentMessageId !== undefined ? [g.byParent(f.parentMessageId)] : []),
    ];
    let sources = base;
    let smallestSize = Infinity;
    if (indexes.length > 0) {
      const sizes = await Promise.all([...indexes, ...base].map((k) => this.redis.zcard(k)));
      const baseSize = sizes.slice(indexes.length).reduce((a, b) => a + b, 0);
      const smallest = sizes.slice(0, indexes.length).reduce((best, n, i) => (n < sizes[best] ? i : best), 0);
      if (sizes[smallest] < baseSize) sources = [indexes[smallest]];
      smallestSize = Math.min(sizes[smallest], baseSize);
    }
    const ids = f.ids ? new Set(f.ids) : undefined;
    // updated_after / updated_before: the group's update order (µs) proposes the threads in the
    // range, when they are few (and fewer than the smallest index): they are then paged like `ids`.
    let candidates = f.ids;
    if (!candidates && (f.updatedAfter !== undefined || f.updatedBefore !== undefined)) {
      const min = f.updatedAfter !== undefined ? String(Math.floor(Number(f.updatedAfter) / 1000)) : '-inf';
      const max = f.updatedBefore !== undefined ? String(Math.floor(Number(f.updatedBefore) / 1000)) : '+inf';
      const n = await this.redis.zcount(g.updated, min, max);
      if (n <= UPDATED_CANDIDATES_MAX && n < smallestSize) candidates = await this.redis.zrangebyscore(g.updated, min, max);
    }
    const passes = (c: Container): boolean =>
      (include === 'all' || (include === 'trash') === (c.deletedAt !== '')) &&
      (ids === undefined || ids.has(c.id)) &&
      (f.createdBy === undefined || c.createdBy === f.createdBy) &&
      (f.parentMessageId === undefined || c.parentMessageId === (f.parentMessageId ?? '')) &&
      (f.createdAfter === undefined || nanosAfter(c.createdAt, f.createdAfter)) &&
      (f.createdBefore === undefined || nanosAfter(f.createdBefore, c.createdAt)) &&
      (f.updatedAfter === undefined || nanosAfter(c.updatedAt, f.updatedAfter)) &&
      (f.updatedBefore === undefined || nanosAfter(f.updatedBefore, c.updatedAt));
    const check = async (candidates: string[]): Promise<(Container | null)[]> => {
      const [found, member] = await Promise.all([
        this.summaries(ns, 'thread', candidates, { userId: page.userId }),
        f.participantId === undefined ? undefined : this.fieldExists(candidates.map((id) => containerKeys(ns, 'thread', id).participants), f.participantId),
      ]);
      return found.map((c, i) => (c && passes(c) && (member === undefined || member[i] === 1) ? c : null));
    };
    // Creation scores are the creation time in µs or a little past it (groupAdd-2 moves a score
    // past the group's last one), so a created_at range bounds the walk with some slack above.
    const creationBounds = !byActivity;
    const lo = creationBounds && f.createdAfter !== undefined ? Math.floor(Number(f.createdAfter) / 1000) : -Infinity;
    const hi = creationBounds && f.createdBefore !== undefined ? Math.ceil(Number(f.createdBefore) / 1000) + CREATION_SCORE_SLACK_US : Infinity;
    if (candidates !== undefined) {
      // A few known ids (`ids`: MAX_IDS_PER_CALL at most; the update range: UPDATED_CANDIDATES_MAX):
      // their own scores in the page's orders are the only candidates.
      const known = candidates;
      return filteredPage({ read: (key, asc, from, count, l, h) => this.idsRange(key, known, asc, from, count, l, h), check }, { ...pageWalk(page), sources: base, lo, hi });
    }
    return filteredPage({ read: (key, asc, from, count, l, h) => this.zRange(key, asc, from, count, l, h), check }, { ...pageWalk(page), sources, lo, hi });
  }

  /** HEXISTS of `field` in each hash: one script on one Redis, one command per hash on a cluster. */
  private fieldExists(hashes: string[], field: string): Promise<number[]> {
    if (this.options.clusterNodes?.length || hashes.length <= 1) return Promise.all(hashes.map((h) => this.redis.hexists(h, field)));
    return this.redis.fieldExists(hashes.length, ...hashes, field);
  }

  /** Members of a zset with scores beyond `from` (exclusive) within [lo, hi], `count` at most, in one direction. */
  private async zRange(key: string, ascending: boolean, from: number | null, count: number, lo: number, hi: number): Promise<[string, number][]> {
    const bound = (n: number) => (n === Infinity ? '+inf' : n === -Infinity ? '-inf' : String(n));
    const raw = ascending
      ? await this.redis.zrangebyscore(key, from === null || from < lo ? bound(lo) : `(${from}`, bound(hi), 'WITHSCORES', 'LIMIT', 0, count)
      : await this.redis.zrevrangebyscore(key, from === null || from > hi ? bound(hi) : `(${from}`, bound(lo), 'WITHSCORES', 'LIMIT', 0, count);
    const out: [string, number][] = [];
    for (let i = 0; i < raw.length; i += 2) out.push([raw[i], Number(raw[i + 1])]);
    return out;
  }

  /** zRange over only the given ids (ZMSCORE): for the `ids` filter. */
  private async idsRange(key: string, ids: string[], ascending: boolean, from: number | null, count: number, lo: number, hi: number): Promise<[string, number][]> {
    if (ids.length === 0) return [];
    const scores = await this.redis.zmscore(key, ...ids);
    const inRange = ids
      .map((id, i) => [id, scores[i] === null ? NaN : Number(scores[i])] as [string, number])
      .filter(([, s]) => !Number.isNaN(s) && s >= lo && s <= hi && (from === null || (ascending ? s > from : s < from)))
      .sort((a, b) => (ascending ? a[1] - b[1] : b[1] - a[1]));
    return inRange.slice(0, count);
  }

  /**
   * One page of an index of containers (a group's, a user's inbox), each read
   * in its own slot, pipelined. Twice at most: a page that met stale entries
   * (a record written first and removed first, so a missing record means a
   * delete stopped halfway) drops them and is read again, so its items,
   * positions and flags all describe live containers.
   */
  private async indexPage(kind: Kind, index: string, page: ContainerPage, read: (ids: string[]) => Promise<(Container | null)[]>): Promise<Page<Container>> {
    const c = page.cursor;
    for (let attempt = 0; ; attempt++) {
      const [ids, scores, hasMore, followsLast] = outcome(kind, await this.redis.groupPage(index, page.order, page.offset, page.limit, c?.dir ?? '', c?.at ?? 0));
      const found = await read(ids);
      const stale = ids.filter((_, i) => found[i] === null);
      if (stale.length === 0 || attempt === 1) {
        const live = found.map((x, i) => [x, Number(scores[i])] as const).filter((p): p is readonly [Container, number] => p[0] !== null);
        return { items: live.map((p) => p[0]), positions: live.map((p) => p[1]), hasMore: hasMore === 1, followsLast: followsLast === 1 };
      }
      await this.redis.zrem(index, ...stale);
    }
  }

  appendMessage(ns: string, kind: Kind, containerId: string, m: NewMessage): Promise<Message> {
    return this.guard('appendMessage', async () => {
      const k = containerKeys(ns, kind, containerId);
      const knownGroup = kind === 'chat' ? undefined : this.groupOf?.get(k.meta);
      const reply = await this.redis.appendMessage(
        k.meta,
        k.order,
        k.deleted,
        k.bodies,
        k.feed,
        k.reads,
        knownGroup === undefined ? k.meta : groupKeys(ns, kind, knownGroup).activity,
        k.participants,
        knownGroup === undefined || kind !== 'thread' ? k.meta : groupKeys(ns, kind, knownGroup).updated,
        m.id,
        encodeNewMessage(m),
        m.clientId ? '1' : '0',
        this.feedRetention,
        m.authorId,
        m.membersOnly ? '1' : '0',
        knownGroup ?? '',
        containerId,
      );
      const [created, seq, record, users, group, newPointer, activityWritten] = outcome(kind, reply);
      const message = decodeMessage(containerId, m.id, seq, record);
      if (kind !== 'chat') this.noteGroup(k.meta, group);
      // Follow-ups in other slots, each idempotent, done before the call returns; a repeat of the
      // call (or the next message) repairs one a crash interrupted (README, "Inboxes and read
      // state"): the chat's activity in each member's inbox, the container's in its group's
      // activity order, and the author's index of containers they have a read pointer in.
      const followUps: Promise<unknown>[] = [];
      if (users) followUps.push(this.touchInboxes(ns, JSON.parse(users) as string[], containerId, message.sentAt));
      if (kind !== 'chat') {
        if (activityWritten !== 1) {
          const g = groupKeys(ns, kind, group);
          followUps.push(this.activity.touch(g.activity, containerId, Number(micros(message.sentAt))));
          if (kind === 'thread') followUps.push(this.activity.touch(g.updated, containerId, Number(micros(message.sentAt))));
        }
        // A new pointer is noted; a repeated client id (the retry of a call a crash may have cut) notes it again.
        if (newPointer === 1 || created === 0) followUps.push(this.noteReader(ns, kind, m.authorId, group, containerId));
      }
      await Promise.all(followUps);
      return message;
    });
  }

  listMessages(ns: string, kind: Kind, containerId: string, q: MessageQuery): Promise<MessagePage> {
    return this.guard('listMessages', async () => {
      const k = containerKeys(ns, kind, containerId);
      const c = q.cursor;
      const args = (part: '' | 'lengths'): ListArgs => [
        k.meta,
        k.order,
        k.deleted,
        k.bodies,
        q.offset,
        q.limit,
        q.order,
        sentBeforeArg(q.sentBefore),
        q.budget,
        c?.dir ?? '',
        c?.at ?? 0,
        q.include ?? 'visible',
        part,
      ];
      if (q.large) return this.largePage(kind, containerId, k, args);
      return this.page(containerId, outcome(kind, await this.redis.listMessages(...args(''))), false);
    });
  }

  /**
   * A large page (MessageQuery.large) in two steps: the script picks the page and counts its
   * bytes without reading them, then one HMGET, outside any script, sends the records, with the
   * container's stamp in the same MULTI. A script that answers 4 MiB holds Redis, and every other
   * tenant's call, ~10 ms converting them; HMGET sends them in a tenth of that (README,
   * "Fairness"). If the stamp moved between the steps (a message was written or changed, or the
   * container deleted), the page is picked again; after LARGE_PAGE_TRIES it is read in one
   * script step. It travels on its own connection (or the main one while that one reconnects
   * after Redis came back), as Buffers.
   */
  private async largePage(kind: Kind, containerId: string, k: ContainerKeys, args: (part: '' | 'lengths') => ListArgs): Promise<MessagePage> {
    const conn = this.bulk.status === 'ready' ? this.bulk : this.redis;
    for (let attempt = 0; attempt < LARGE_PAGE_TRIES; attempt++) {
      const [flat, hasMore, followsLast, feedPosition, bytes, stamp] = outcome(kind, await conn.listMessages(...args('lengths')));
      if (flat.length === 0) return this.page(containerId, [[], hasMore, followsLast, feedPosition, bytes], true);
      const ids = flat.filter((_, i) => i % 2 === 0);
      const replies = await conn.multi().hmgetBuffer(k.bodies, ...ids).hmget(k.meta, 's', 'e', 'c').exec();
      const [[e1, records], [e2, head]] = replies as [[Error | null, (Buffer | null)[]], [Error | null, (string | null)[]]];
      if (e1 || e2) throw e1 ?? e2;
      if (head.map((v) => v ?? '').join(':') !== stamp) continue;
      const page: (string | Buffer)[] = [];
      ids.forEach((id, i) => page.push(id, flat[2 * i + 1], records[i]!));
      return this.page(containerId, [page, hasMore, followsLast, feedPosition, bytes], true);
    }
    const [code, ...rest] = await conn.listMessagesBuffer(...args(''));
    return this.page(containerId, outcome(kind, [code.toString() as Outcome, ...rest]), true);
  }

  /**
   * A page's flat { id, seq, record, … } list as messages. A large one's records are Buffers,
   * off the JS heap, so a scavenge does not copy megabytes of them; they are decoded a slice at a
   * time with the event loop let go between slices, their texts left as bytes, so other
   * callers' replies are not held behind it.
   */
  private async page(
    containerId: string,
    [flat, hasMore, followsLast, feedPosition, bytes]: [(string | Buffer)[], number, number, number, number, ...unknown[]],
    large: boolean,
  ): Promise<MessagePage> {
    const items: Message[] = [];
    const positions: number[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      if (large && i > 0 && i % (3 * DECODE_SLICE) === 0) await new Promise(setImmediate);
      // String() returns a string as it is and decodes a Buffer; a large page's texts stay bytes.
      const record = flat[i + 2];
      const m = Buffer.isBuffer(record)
        ? decodeMessageBytes(containerId, String(flat[i]), String(flat[i + 1]), record)
        : decodeMessage(containerId, String(flat[i]), String(flat[i + 1]), record);
      items.push(m);
      positions.push(m.seq);
    }
    return { items, positions, hasMore: hasMore === 1, followsLast: followsLast === 1, feedPosition, bytes };
  }

  readFeed(ns: string, kind: Kind, id: string, after: number, count: number): Promise<FeedRead> {
    return this.guard('readFeed', async () => {
      const k = containerKeys(ns, kind, id);
      const [last, resync, flat] = outcome(
        kind,
        await this.redis.feedRead(k.meta, k.feed, k.bodies, String(after), count, this.feedRetention, FEED_READ_BYTES),
      );
      const entries: FeedEntry[] = [];
      for (let i = 0; i < flat.length; i += 6) {
        const [position, type, messageId, seq, ms, record] = flat.slice(i, i + 6);
        entries.push({
          position: Number(position),
          type: type as ChangeType,
          message: record === '' ? null : decodeMessage(id, messageId, seq, record),
          acceptedMs: Number(ms),
        });
      }
      return { last, resync: resync === 1, entries };
    });
  }

  /** Remembers a container's group for the next append (one Redis only; oldest forgotten first). */
  private noteGroup(metaKey: string, group: string): void {
    const known = this.groupOf;
    if (!known || known.get(metaKey) === group) return;
    if (known.size >= GROUP_CACHE_ENTRIES) known.delete(known.keys().next().value!);
    known.set(metaKey, group);
  }

  /** A chat's activity (a sent_at or created_at, ns) in each user's inbox. */
  private async touchInboxes(ns: string, userIds: readonly string[], chatId: string, at: Nanos): Promise<void> {
    await Promise.all(userIds.map((u) => this.redis.inboxTouch(userChatsKey(ns, u), chatId, micros(at))));
  }

  summary(ns: string, kind: Kind, id: string, opts: { userId?: string; lastMessage?: boolean }): Promise<Container | null> {
    return this.guard('summary', async () => {
      const k = containerKeys(ns, kind, id);
      const reply = await this.redis.summary(k.meta, k.order, k.bodies, k.reads, opts.userId ?? '', opts.lastMessage ? '1' : '0', ...SUMMARY_FIELDS);
      return decodeSummary(kind, id, opts, reply);
    });
  }

  /**
   * Summaries of several containers: one script per container on a cluster
   * (each lives in its own slot), one script for all on a single Redis.
   */
  private async summaries(ns: string, kind: Kind, ids: readonly string[], opts: { userId?: string; lastMessage?: boolean }): Promise<(Container | null)[]> {
    if (this.options.clusterNodes?.length || ids.length <= 1) return Promise.all(ids.map((id) => this.summary(ns, kind, id, opts)));
    const keys = ids.flatMap((id) => {
      const k = containerKeys(ns, kind, id);
      return [k.meta, k.order, k.bodies, k.reads];
    });
    const [, replies] = await this.redis.summaries(keys.length, ...keys, opts.userId ?? '', opts.lastMessage ? '1' : '0', ...SUMMARY_FIELDS);
    return replies.map((r, i) => decodeSummary(kind, ids[i], opts, r));
  }

  markRead(ns: string, kind: Kind, id: string, userId: string, messageId: string): Promise<Container> {
    return this.guard('markRead', async () => {
      const k = containerKeys(ns, kind, id);
      const [meta, unread] = outcome(kind, await this.redis.markRead(k.meta, k.order, k.deleted, k.reads, userId, messageId));
      const c = { ...decodeContainer(kind, meta)!, unreadCount: unread };
      if (kind !== 'chat') await this.noteReader(ns, kind, userId, c.groupId, id);
      return c;
    });
  }

  /** A container the user has a read pointer in, in their index for the group (ZADD NX: idempotent). */
  private noteReader(ns: string, kind: Kind, userId: string, groupId: string, id: string): Promise<unknown> {
    return this.redis.zadd(userReadIndexKey(ns, userId, kind, groupId), 'NX', Date.now() * 1000, id);
  }

  unread(ns: string, kind: Kind, userId: string, groupId: string, max: number): Promise<Container[]> {
    return this.guard('unread', async () => {
      const index = kind === 'chat' ? userChatsKey(ns, userId) : userReadIndexKey(ns, userId, kind, groupId);
      const read = await this.redis.zrevrange(index, 0, max - 1);
      // Threads: also those the user takes part in (the group's participant index, newest first),
      // each checked on the thread's participants (the index only proposes).
      let taking: string[] = [];
      if (kind === 'thread') {
        const proposed = (await this.redis.zrevrange(groupKeys(ns, kind, groupId).byParticipant(userId), 0, max - 1)).filter((id) => !read.includes(id));
        const member = await Promise.all(proposed.map((id) => this.redis.hexists(containerKeys(ns, kind, id).participants, userId)));
        taking = proposed.filter((_, i) => member[i] === 1);
      }
      const ids = [...read, ...taking].slice(0, max);
      const found = await this.summaries(ns, kind, ids, { userId });
      const stale = ids.filter((id, i) => found[i] === null && read.includes(id));
      // Entries of deleted containers (their removal is a follow-up, or none for read indexes) go now.
      if (stale.length) await this.redis.zrem(index, ...stale);
      // A thread in the trash is out of sight: its unread messages are not counted.
      return found.filter((c): c is Container => c !== null && c.deletedAt === '' && (c.unreadCount ?? 0) > 0);
    });
  }

  listInbox(ns: string, userId: string, page: ContainerPage): Promise<Page<Container>> {
    return this.guard('listInbox', () =>
      this.indexPage('chat', userChatsKey(ns, userId), page, (ids) => this.summaries(ns, 'chat', ids, { userId, lastMessage: true })),
    );
  }

  userChats(ns: string, userId: string, max: number): Promise<string[]> {
    return this.guard('userChats', () => this.redis.zrevrange(userChatsKey(ns, userId), 0, max - 1));
  }

  /**
   * The cursor secret: 32 random bytes kept in Redis under a key no namespace's
   * data can name (SET NX: the first instance makes it, the others read it).
   */
  sharedSecret(): Promise<Buffer> {
    return this.guard('sharedSecret', async () => {
      const fresh = randomBytes(32).toString('base64');
      const prev = await this.redis.set(SECRET_KEY, fresh, 'NX', 'GET');
      return Buffer.from(prev ?? fresh, 'base64');
    });
  }

  chatForUsers(ns: string, userIds: readonly string[], id: string, metadata: Metadata): Promise<Container> {
    return this.guard('chatForUsers', async () => {
      const setKey = chatSetKey(ns, userIds);
      const users = JSON.stringify(userIds);
      // The user-set key decides which chat a set has (SET NX is atomic); the chat
      // record is then created if absent. A mapping whose chat belongs to another
      // set (a given id that raced) is stale and is replaced; a few rounds settle it.
      for (let round = 0; round < 5; round++) {
        const prev = await this.redis.set(setKey, id, 'NX', 'GET');
        const target = prev ?? id;
        const k = containerKeys(ns, 'chat', target);
        const [record] = outcome('chat', await this.redis.createContainer(k.meta, k.participants, k.joinOrder, target, '', '', users, encodeMetadata(metadata), '', '', '', 0));
        const chat = decodeContainer('chat', record)!;
        if (sameList(chat.userIds, userIds)) {
          // Each user's chat index, in the users' own slots: an idempotent follow-up that every
          // CreateChat of this set repeats, so one interrupted here is completed by the next.
          await this.touchInboxes(ns, userIds, chat.id, chat.lastMessageAt || chat.createdAt);
          return chat;
        }
        await this.redis.deleteIfEqual(setKey, target);
        // The given id already names another set's chat: that chat is the answer.
        if (prev === null) return chat;
      }
      throw new Error('chat user-set mapping did not settle');
    });
  }

  take(scope: RateScope, ratePerSecond: number, burst: number): Promise<{ ok: boolean; retryAfterMs: number }> {
    return this.guard('take', async () => {
      const key = 'kind' in scope ? containerKeys(scope.ns, scope.kind, scope.containerId).rateLimit : namespaceRateKey(scope.ns);
      const [ok, wait] = await this.redis.takeToken(key, ratePerSecond, burst);
      return { ok: ok === 1, retryAfterMs: wait };
    });
  }

  /**
   * Runs a store operation, timed, and bounded by the command timeout as a whole:
   * ioredis times each command from when it is sent, and auto-pipelining holds a
   * command back until the batch in flight settles, so its own timer alone could
   * let a call wait twice as long. An operation that overruns becomes
   * DEADLINE_EXCEEDED (its write may still apply, as with any passed deadline);
   * a client that cannot reach Redis, UNAVAILABLE.
   */
  private async guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const end = (outcome: 'ok' | 'timeout' | 'unavailable' | 'error') => storeOpLatency(op, outcome).observe((performance.now() - t0) / 1000);
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = fn();
      // After a timeout nothing awaits the work; its late failure must not go unhandled.
      work.catch(() => undefined);
      const overrun = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Command timed out (store operation)')), this.opTimeoutMs);
      });
      const out = await Promise.race([work, overrun]);
      end('ok');
      return out;
    } catch (err) {
      if (err instanceof AppError || err instanceof ReplyTooLarge) {
        end('ok');
        throw err;
      }
      if (isTimeout(err)) {
        end('timeout');
        throw new AppError('DEADLINE_EXCEEDED', undefined);
      }
      if (isUnreachable(err)) {
        end('unavailable');
        throw new AppError('UNAVAILABLE', undefined);
      }
      end('error');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * sent_before as the scripts compare it: 19 digits, like every stored sent_at
 * (they are all between 2001 and 2286), clamped so earlier or later bounds
 * compare correctly as strings.
 */
function sentBeforeArg(ns: string | undefined): string {
  if (ns === undefined) return '';
  const n = BigInt(ns);
  if (n < 10n ** 18n) return '0'.repeat(19);
  if (n >= 10n ** 19n) return '9'.repeat(19);
  return n.toString();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A time in ns (a decimal string) as Unix µs, the score of activity orders (exact in a double). */
function micros(at: Nanos): string {
  return at.slice(0, -3);
}

/** A summary script's reply as a container (null when absent). */
function decodeSummary(
  kind: Kind,
  id: string,
  opts: { lastMessage?: boolean },
  reply: [Outcome, (string | null)[], number, string, string, string] | [Outcome],
): Container | null {
  if (reply[0] === 'NO_CONTAINER') return null;
  const [values, unread, lastId, lastSeq, lastRecord] = outcome(kind, reply as [Outcome, (string | null)[], number, string, string, string]);
  const c = decodeSummaryFields(kind, values)!;
  if (unread >= 0) c.unreadCount = unread;
  if (opts.lastMessage) c.lastMessage = lastId ? decodeMessage(id, lastId, lastSeq, lastRecord) : null;
  return c;
}
