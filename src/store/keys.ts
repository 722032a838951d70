/**
 * The only place Redis key names are built.
 *
 * Layout (version prefix `pl1`, so a future layout can live beside this one):
 *
 *   pl1:{<ns>:<k>:<id>}:meta   hash   the container record (fields below)
 *   pl1:{<ns>:<k>:<id>}:seq    zset   message id -> seq: the messages not deleted, in acceptance order
 *   pl1:{<ns>:<k>:<id>}:del    zset   message id -> seq: the deleted (and purged) ones
 *   pl1:{<ns>:<k>:<id>}:msg    hash   message id -> its record (JSON, record.ts)
 *   pl1:{<ns>:<k>:<id>}:feed   stream the container's live feed, `<position>-0` -> change (lua/includes/feed.lua);
 *                                     also the sharded pub/sub channel that wakes its followers
 *   pl1:{<ns>:<k>:<id>}:rd     hash   user id -> seq: read pointers (lua/markRead-4.lua)
 *   pl1:{<ns>:u:<user>}:chats  zset   chat id -> last activity (Unix µs): a user's inbox; also the
 *                                     channel that announces a new chat (lua/inboxTouch-1.lua)
 *   pl1:{<ns>:<k>g:<group>}:idx  zset container id -> creation order, per group
 *   pl1:{<ns>:<k>g:<group>}:act  zset container id -> last activity (Unix µs), per group
 *   pl1:{<ns>:u:<user>}:rp:<k>:<group>  zset  container id -> when the user's read pointer began (µs):
 *                                     the group's containers the user takes part in (GetUnread)
 *   pl1:{<ns>:cu:<sha256>}     string  chat id of one set of users
 *   pl1:{<ns>:rl}              hash   the namespace's rate-limit bucket
 *   pl1:{~secret}:cursor       string the cursor secret (~ is escaped in every namespace, so no namespace's key is this)
 *   pl1:{<ns>:<k>:<id>}:rl     hash   a container's message-write bucket (same slot as the container)
 *
 * The records' fields are listed in record.ts.
 *
 * <k> is t (thread), c (chat) or v (conversation), so the three APIs never
 * share a key. Every key of one container carries the same hash tag `{…}`, so on
 * a Redis Cluster all of them live in one slot and a script can write them
 * atomically. The namespace, ids and group ids are escaped: every byte outside
 * [A-Za-z0-9._-] becomes %XX (including `%`, `:`, `{` and `}`), which makes the
 * encoding injective and keeps every id inside its own tag and its own field.
 */
import { createHash } from 'node:crypto';
import type { Kind } from '../core/model';

const PREFIX = 'pl1';

const KIND_CODE: Record<Kind, string> = { thread: 't', chat: 'c', conversation: 'v' };

const SAFE = /^[A-Za-z0-9._-]*$/;

/** Percent-encodes every UTF-8 byte outside [A-Za-z0-9._-]. */
export function escapeId(s: string): string {
  if (SAFE.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const safe =
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x5f || b === 0x2d;
    out += safe ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export interface ContainerKeys {
  meta: string;
  order: string;
  bodies: string;
  deleted: string;
  reads: string;
  rateLimit: string;
  feed: string;
  /** Threads: participant id -> record, and participant id -> join position. */
  participants: string;
  joinOrder: string;
}

export function containerKeys(ns: string, kind: Kind, id: string): ContainerKeys {
  const base = `${PREFIX}:{${escapeId(ns)}:${KIND_CODE[kind]}:${escapeId(id)}}`;
  return {
    meta: `${base}:meta`,
    order: `${base}:seq`,
    bodies: `${base}:msg`,
    deleted: `${base}:del`,
    reads: `${base}:rd`,
    rateLimit: `${base}:rl`,
    feed: `${base}:feed`,
    participants: `${base}:pp`,
    joinOrder: `${base}:pj`,
  };
}

/** The cursor secret's key: `~` is outside [A-Za-z0-9._-], so no escaped namespace is `~secret`. */
export const SECRET_KEY = `${PREFIX}:{~secret}:cursor`;

export function namespaceRateKey(ns: string): string {
  return `${PREFIX}:{${escapeId(ns)}:rl}`;
}

/** A user's chats (Chats.Subscribe by user_id follows them). */
export function userChatsKey(ns: string, userId: string): string {
  return `${PREFIX}:{${escapeId(ns)}:u:${escapeId(userId)}}:chats`;
}

/** The containers of a group that a user has a read pointer in (GetUnread by group). */
export function userReadIndexKey(ns: string, userId: string, kind: Kind, groupId: string): string {
  return `${PREFIX}:{${escapeId(ns)}:u:${escapeId(userId)}}:rp:${KIND_CODE[kind]}:${escapeId(groupId)}`;
}

export interface GroupKeys {
  /** Live containers by creation, and by activity. */
  index: string;
  activity: string;
  /** Threads in the trash, by creation and by activity (README, "A richer thread"). */
  trash: string;
  /** Threads (live and trashed) by updated_at, Unix µs: the updated_after/updated_before filters. */
  updated: string;
  trashActivity: string;
  /** Threads' filter indexes, scored like `index`: top-level threads, and by parent message, creator, participant. */
  topLevel: string;
  byParent(messageId: string): string;
  byCreator(userId: string): string;
  byParticipant(participantId: string): string;
}

export function groupKeys(ns: string, kind: Kind, groupId: string): GroupKeys {
  const base = `${PREFIX}:{${escapeId(ns)}:${KIND_CODE[kind]}g:${escapeId(groupId)}}`;
  return {
    index: `${base}:idx`,
    activity: `${base}:act`,
    trash: `${base}:tr`,
    updated: `${base}:upd`,
    trashActivity: `${base}:atr`,
    topLevel: `${base}:top`,
    byParent: (m) => `${base}:pm:${escapeId(m)}`,
    byCreator: (u) => `${base}:cb:${escapeId(u)}`,
    byParticipant: (p) => `${base}:p:${escapeId(p)}`,
  };
}

/**
 * The key that maps one set of users to its chat. The set (sorted, distinct)
 * is hashed with each id length-prefixed, so no choice of ids containing a
 * separator can make two different sets meet; the chat record keeps the
 * users and the store checks them on every lookup as well.
 */
export function chatSetKey(ns: string, sortedUserIds: readonly string[]): string {
  const h = createHash('sha256');
  for (const u of sortedUserIds) {
    const b = Buffer.from(u, 'utf8');
    h.update(`${b.length}:`);
    h.update(b);
  }
  return `${PREFIX}:{${escapeId(ns)}:cu:${h.digest('hex')}}`;
}
