/**
 * The stored records, the one place on the TypeScript side that knows their
 * shape (the Lua scripts document the fields they read and write). Both are
 * named-field records, so a new field (edited_at, deleted_at, metadata, …) is
 * one more name, not a change of every script's positions.
 *
 * Container: the hash `…:meta`, one field per property:
 *
 *   id  the id                 g  group_id ("" for chats)   t  topic
 *   c   created_at (ns)        u  user ids, JSON (chats)     s  last seq handed out
 *   n   message count          l  sent_at of the newest message ("" for none)
 *
 * Message: one entry of the hash `…:msg`, message id → a JSON object with
 * short keys (memory: every message pays for its key names):
 *
 *   {"s": sent_at (ns, a 19-digit string), "a": author_id, "t": text}
 *
 * The append script writes `s` itself (it takes the time), in front of the
 * object this module encodes, by string concatenation: no JSON decode on the
 * hot path.
 *
 * Scripts answer an outcome first, `{ 'OK', … }` or `{ '<failure>' }`, and
 * `outcome()` maps failures to the error table in this one place.
 */
import { notFound, ReplyTooLarge } from '../core/errors';
import type { Container, Kind, Message } from '../core/model';

/** The fields of a container hash, by name. */
export const META = {
  id: 'id',
  group: 'g',
  topic: 't',
  createdAt: 'c',
  users: 'u',
  lastSeq: 's',
  count: 'n',
  lastMessageAt: 'l',
} as const;

/** A container hash as HGETALL gives it (ioredis: an object; a script: a flat list). */
export function decodeContainer(kind: Kind, fields: Record<string, string> | string[] | null): Container | null {
  const f = Array.isArray(fields) ? pairs(fields) : fields;
  if (!f || f[META.id] === undefined) return null;
  return {
    kind,
    id: f[META.id],
    groupId: f[META.group] ?? '',
    topic: f[META.topic] ?? '',
    createdAt: f[META.createdAt] ?? '0',
    userIds: f[META.users] ? (JSON.parse(f[META.users]) as string[]) : [],
    lastSeq: Number(f[META.lastSeq] ?? 0),
    messageCount: Number(f[META.count] ?? 0),
    lastMessageAt: f[META.lastMessageAt] ?? '',
  };
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

/** A new message's record without `s`, which the append script puts in front. */
export function encodeNewMessage(m: { authorId: string; text: string }): string {
  return JSON.stringify({ a: m.authorId, t: m.text });
}

interface StoredMessage {
  s: string;
  a: string;
  t: string;
}

export function decodeMessage(containerId: string, id: string, seq: number | string, record: string): Message {
  const r = JSON.parse(record) as StoredMessage;
  return { id, containerId, authorId: r.a, text: r.t, sentAt: r.s, seq: Number(seq) };
}

/** What a script answers when it could not do its work. */
const FAILURES = {
  NO_CONTAINER: (kind: Kind) => notFound(kind),
  /** A read stopped at its reply budget (the core names the field that asks for fewer). */
  TOO_LARGE: () => new ReplyTooLarge(),
} satisfies Record<string, (kind: Kind) => Error>;


export type Outcome = 'OK' | keyof typeof FAILURES;

/** The rest of a script's reply after `OK`; throws the mapped error for any other outcome. */
export function outcome<T extends unknown[]>(kind: Kind, reply: [Outcome, ...T]): T {
  const [code, ...rest] = reply;
  if (code === 'OK') return rest as unknown as T;
  const fail = FAILURES[code as keyof typeof FAILURES];
  if (!fail) throw new Error(`store script answered an unknown outcome ${String(code)}`);
  throw fail(kind);
}
