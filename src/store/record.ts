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
 *   n   message count (not deleted)   l  sent_at of the newest message ("" for none)
 *   e   the feed's last position       md metadata, a JSON object (absent when empty)
 *   ua  updated_at (ns): creation, then the last change to the container or a message in it
 *   cb  created_by (threads; absent when not given)   pt, pm  a sub-thread's parent thread and message
 *   da  deleted_at (ns; threads in the trash only)    pc  the last participant join position
 *
 * Participant: one entry of the hash `…:pp` (lua/includes/participants.lua):
 *
 *   {"j": joined_at (ns), "y": type, "n": name, "r": role, "m": metadata (absent when empty)}
 *
 * Message: one entry of the hash `…:msg`, message id → a JSON object with
 * short keys (memory: every message pays for its key names):
 *
 *   {"s": sent_at (ns, a 19-digit string), "a": author_id, "t": text,
 *    "m": metadata (absent when empty), "e": edited_at (ns; absent until edited),
 *    "d": deleted_at (ns; present while deleted), "p": 1 once purged (then no "t", "m", "e")}
 *
 * `s` stays first in every record (reads by sent_before take it from the
 * record's first bytes; lua/changeMessage-5.lua keeps it there). A deleted
 * message keeps its text and metadata (a restore brings them back); the API
 * shows it as a tombstone.
 *
 * The append script writes `s` itself (it takes the time), in front of the
 * object this module encodes, by string concatenation: no JSON decode on the
 * hot path.
 *
 * Scripts answer an outcome first, `{ 'OK', … }` or `{ '<failure>' }`, and
 * `outcome()` maps failures to the error table in this one place.
 */
import { AppError, notFound, ReplyTooLarge } from '../core/errors';
import { withTextBytes } from '../core/text-bytes';
import type { Container, Kind, Message, Metadata, NewParticipant, Participant, ParticipantRole, ParticipantType } from '../core/model';

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
  feedPosition: 'e',
  metadata: 'md',
  updatedAt: 'ua',
  createdBy: 'cb',
  parentThread: 'pt',
  parentMessage: 'pm',
  deletedAt: 'da',
} as const;

/** The fields a summary read answers, in this order (lua/includes/summary.lua): the id first. */
export const SUMMARY_FIELDS = [
  META.id,
  META.group,
  META.topic,
  META.createdAt,
  META.users,
  META.lastSeq,
  META.count,
  META.lastMessageAt,
  META.metadata,
  META.updatedAt,
  META.createdBy,
  META.parentThread,
  META.parentMessage,
  META.deletedAt,
];

/** A summary's values (SUMMARY_FIELDS order, null for an absent field) as a container. */
export function decodeSummaryFields(kind: Kind, values: (string | null)[]): Container | null {
  const f: Record<string, string> = {};
  SUMMARY_FIELDS.forEach((name, i) => {
    const v = values[i];
    if (v !== null && v !== undefined) f[name] = v;
  });
  return decodeContainer(kind, f);
}

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
    metadata: f[META.metadata] ? (JSON.parse(f[META.metadata]) as Metadata) : {},
    updatedAt: f[META.updatedAt] ?? f[META.createdAt] ?? '0',
    createdBy: f[META.createdBy] ?? '',
    parentThreadId: f[META.parentThread] ?? '',
    parentMessageId: f[META.parentMessage] ?? '',
    deletedAt: f[META.deletedAt] ?? '',
  };
}

interface StoredParticipant {
  j: string;
  y: ParticipantType;
  n: string;
  r: ParticipantRole;
  m?: Metadata;
}

/** A participant's record without "j" (the script adds it); "r" is exactly "read_only" for read-only ones. */
export function encodeParticipant(p: NewParticipant): string {
  const base = { y: p.type, n: p.name, r: p.role };
  return JSON.stringify(Object.keys(p.metadata).length ? { ...base, m: p.metadata } : base);
}

export function decodeParticipant(id: string, record: string): Participant {
  const r = JSON.parse(record) as Partial<StoredParticipant>;
  return { id, type: r.y ?? 'user', name: r.n ?? '', role: r.r ?? 'read_write', metadata: r.m ?? {}, joinedAt: r.j ?? '' };
}

/** A flat { id, record, … } list (includes/participants participantsAll) as participants. */
export function decodeParticipants(flat: string[]): Participant[] {
  const out: Participant[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push(decodeParticipant(flat[i], flat[i + 1]));
  return out;
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

/** A new message's record without `s`, which the append script puts in front. */
export function encodeNewMessage(m: { authorId: string; text: string; metadata: Metadata }): string {
  return JSON.stringify(Object.keys(m.metadata).length ? { a: m.authorId, t: m.text, m: m.metadata } : { a: m.authorId, t: m.text });
}

/** Metadata changes for a script to merge, or "" for none. */
export function encodeMetadata(m: Metadata | undefined): string {
  return m && Object.keys(m).length ? JSON.stringify(m) : '';
}

interface StoredMessage {
  s: string;
  a: string;
  t?: string;
  m?: Metadata;
  e?: string;
  d?: string;
  p?: number;
}

/** A stored message as the API shows it: a deleted one as a tombstone. */
export function decodeMessage(containerId: string, id: string, seq: number | string, record: string): Message {
  const r = JSON.parse(record) as StoredMessage;
  // One literal of one shape (no spread): this runs for every message a call answers.
  const deleted = r.d !== undefined && r.d !== '';
  return {
    id,
    containerId,
    authorId: r.a,
    sentAt: r.s,
    seq: Number(seq),
    text: deleted ? '' : (r.t ?? ''),
    metadata: deleted || r.m === undefined ? {} : r.m,
    editedAt: deleted ? '' : (r.e ?? ''),
    deletedAt: deleted ? r.d! : '',
  };
}

/**
 * decodeMessage for a record given as bytes (a large page): a text without
 * escapes stays a slice of the record (core/text-bytes.ts) and only the rest of
 * the record is decoded and parsed; any other record is decoded whole.
 */
export function decodeMessageBytes(containerId: string, id: string, seq: number | string, record: Buffer): Message {
  const t = textSpan(record);
  if (!t) return decodeMessage(containerId, id, seq, record.toString('utf8'));
  const m = decodeMessage(containerId, id, seq, record.toString('utf8', 0, t.start) + record.toString('utf8', t.end));
  return m.deletedAt === '' ? withTextBytes(m, record.subarray(t.start, t.end)) : m;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const T = 0x74;

/**
 * Where the text's characters are in a record (between its quotes), found by
 * walking the record's top-level keys (an edited record's keys come in any
 * order, and metadata may have a key "t"); undefined when the record has no
 * text, the text has an escape (then its bytes are not its characters), or the
 * record is not in the shape the scripts write.
 */
function textSpan(b: Buffer): { start: number; end: number } | undefined {
  if (b[0] !== OPEN) return undefined;
  let i = 1;
  while (b[i] === QUOTE) {
    const keyEnd = stringEnd(b, i + 1);
    if (keyEnd < 0 || b[keyEnd + 1] !== COLON) return undefined;
    const isText = keyEnd === i + 2 && b[i + 1] === T;
    i = keyEnd + 2;
    if (b[i] === QUOTE) {
      const end = stringEnd(b, i + 1);
      if (end < 0) return undefined;
      if (isText) {
        const escape = b.indexOf(BACKSLASH, i + 1);
        return escape >= 0 && escape < end ? undefined : { start: i + 1, end };
      }
      i = end + 1;
    } else if (b[i] === OPEN) {
      i = objectEnd(b, i);
      if (i < 0) return undefined;
      i++;
    } else {
      while (i < b.length && b[i] !== COMMA && b[i] !== CLOSE) i++;
    }
    if (b[i] !== COMMA) return undefined;
    i++;
  }
  return undefined;
}

/** The index of the quote that closes the string whose characters start at `from`, or -1. */
function stringEnd(b: Buffer, from: number): number {
  let q = b.indexOf(QUOTE, from);
  while (q >= 0) {
    let slashes = 0;
    while (q - 1 - slashes >= from && b[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q;
    q = b.indexOf(QUOTE, q + 1);
  }
  return -1;
}

/** The index of the brace that closes the object opening at `open`, or -1. */
function objectEnd(b: Buffer, open: number): number {
  let depth = 0;
  for (let i = open; i < b.length; i++) {
    const c = b[i];
    if (c === QUOTE) {
      i = stringEnd(b, i + 1);
      if (i < 0) return -1;
    } else if (c === OPEN) {
      depth++;
    } else if (c === CLOSE && --depth === 0) {
      return i;
    }
  }
  return -1;
}

/** What a script answers when it could not do its work. */
const FAILURES = {
  NO_CONTAINER: (kind: Kind) => notFound(kind),
  NO_MESSAGE: () => notFound('message'),
  NOT_A_MEMBER: () => new AppError('NOT_A_MEMBER', 'author_id is not one of the chat\'s users (CHATS_ENFORCE_MEMBERSHIP)', { field: 'author_id' }),
  READ_ONLY: () => new AppError('READ_ONLY', 'author_id is a read_only participant of this thread', { field: 'author_id' }),
  THREAD_DELETED: () => new AppError('THREAD_DELETED', 'the thread is in the trash: restore it (RestoreThread) before writing to it'),
  NOT_DELETED: () => new AppError('NOT_DELETED', 'the thread is not in the trash: soft-delete it (SoftDeleteThread) before purging it', { field: 'id' }),
  TOO_MANY_PARTICIPANTS: (_kind: Kind, max?: unknown) =>
    new AppError('INVALID_ARGUMENT', `participants: the thread would hold more than ${String(max)} participants (MAX_PARTICIPANTS)`, { field: 'participants' }),
  MESSAGE_DELETED: () => new AppError('MESSAGE_DELETED', 'the message is deleted: restore it before editing it'),
  MESSAGE_PURGED: () => new AppError('MESSAGE_PURGED', 'the message is purged: its text is gone for good and it cannot be restored'),
  /** The merged metadata would break a limit (the script names it). */
  BAD_METADATA: (_kind: Kind, limit?: unknown) =>
    new AppError('INVALID_ARGUMENT', `metadata: after the merge the map would be over ${String(limit)}`, { field: 'metadata' }),
  /** A read stopped at its reply budget (the core names the field that asks for fewer). */
  TOO_LARGE: () => new ReplyTooLarge(),
} satisfies Record<string, (kind: Kind, detail?: unknown) => Error>;


export type Outcome = 'OK' | keyof typeof FAILURES;

/** The rest of a script's reply after `OK`; throws the mapped error for any other outcome. */
export function outcome<T extends unknown[]>(kind: Kind, reply: [Outcome, ...T]): T {
  const [code, ...rest] = reply;
  if (code === 'OK') return rest as unknown as T;
  const fail = FAILURES[code as keyof typeof FAILURES];
  if (!fail) throw new Error(`store script answered an unknown outcome ${String(code)}`);
  throw fail(kind, rest[0]);
}
