/**
 * Cursors (README, "Paging with cursors"): opaque strings naming a position in one list.
 *
 *   base64url( version 1 | type | position (uint64 BE) | mac (10 bytes) )
 *
 * `type` says what kind of list (a container's messages, a group's
 * containers, a container's live feed) and `position` where in it (a
 * message's seq, a container's order in its group, a feed position). The mac
 * is HMAC-SHA256 under a secret no caller can read, over the version, type,
 * position and the list's identity (namespace, kind, container or group): a
 * cursor from another list, another namespace or another kind of list, or
 * one changed by a single bit, fails the check and is INVALID_CURSOR. The
 * position is in the clear (it is no secret; a seq is on every message); what
 * a caller cannot do is move it to another list.
 *
 * Feed cursors end with a hint of their container (6 bytes of its id's
 * SHA-256): Subscribe takes a list of cursors without saying whose each is,
 * and finds each one's container by its hint, then checks the mac.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from './errors';
import type { Kind } from './model';

const VERSION = 1;
const MAC_BYTES = 10;
const HINT_BYTES = 6;
const LENGTH = 1 + 1 + 8 + MAC_BYTES;

/** The hint a feed cursor carries for the container `scope`. */
export function scopeHint(scope: string): string {
  return createHash('sha256').update(scope, 'utf8').digest().subarray(0, HINT_BYTES).toString('hex');
}

/** What kind of list a cursor belongs to. */
export const CURSOR_TYPE = { messages: 1, containers: 2, feed: 3, participants: 4 } as const;
export type CursorType = keyof typeof CURSOR_TYPE;

/** The identity of one list: a container's messages or feed (`scope` its id), or a group's containers (`scope` the group). */
export interface ListId {
  ns: string;
  kind: Kind;
  type: CursorType;
  scope: string;
}

export class Cursors {
  constructor(private readonly secret: Buffer) {
    if (secret.length < 16) throw new Error('the cursor secret must hold at least 16 bytes');
  }

  encode(list: ListId, position: number): string {
    const feed = list.type === 'feed';
    const b = Buffer.alloc(LENGTH + (feed ? HINT_BYTES : 0));
    if (feed) Buffer.from(scopeHint(list.scope), 'hex').copy(b, LENGTH);
    b[0] = VERSION;
    b[1] = CURSOR_TYPE[list.type];
    b.writeBigUInt64BE(BigInt(position), 2);
    this.mac(list, b.subarray(0, 10)).copy(b, 10);
    return b.toString('base64url');
  }

  /**
   * `encode` for one list, with what does not change from cursor to cursor
   * (the list's identity as the mac reads it, a feed's hint) made once: the
   * live feed signs every event's cursor. The same strings as `encode`.
   */
  encoder(list: ListId): (position: number) => string {
    const feed = list.type === 'feed';
    const hint = feed ? Buffer.from(scopeHint(list.scope), 'hex') : undefined;
    const identity = Cursors.identity(list);
    return (position) => {
      const b = Buffer.alloc(LENGTH + (hint ? HINT_BYTES : 0));
      hint?.copy(b, LENGTH);
      b[0] = VERSION;
      b[1] = CURSOR_TYPE[list.type];
      b.writeBigUInt64BE(BigInt(position), 2);
      createHmac('sha256', this.secret).update(b.subarray(0, 10)).update(identity).digest().copy(b, 10, 0, MAC_BYTES);
      return b.toString('base64url');
    };
  }

  /** The position a cursor names in `list`; INVALID_CURSOR naming `field` for anything else. */
  decode(list: ListId, cursor: string, field: string): number {
    const bad = () => new AppError('INVALID_CURSOR', `${field} is not a cursor of this list`, { field });
    if (cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
    const b = Buffer.from(cursor, 'base64url');
    const length = LENGTH + (list.type === 'feed' ? HINT_BYTES : 0);
    if (b.length !== length || b[0] !== VERSION || b[1] !== CURSOR_TYPE[list.type]) throw bad();
    if (!timingSafeEqual(this.mac(list, b.subarray(0, 10)), b.subarray(10, LENGTH))) throw bad();
    const position = b.readBigUInt64BE(2);
    if (position > BigInt(Number.MAX_SAFE_INTEGER)) throw bad();
    return Number(position);
  }

  /** The container hint of a string shaped like a feed cursor (checked by `decode` later), else undefined. */
  feedHint(cursor: string): string | undefined {
    if (cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
    const b = Buffer.from(cursor, 'base64url');
    if (b.length !== LENGTH + HINT_BYTES || b[1] !== CURSOR_TYPE.feed) return undefined;
    return b.subarray(LENGTH).toString('hex');
  }

  /** A MAC over `data` for the list `list` (the live feed's resume ids). */
  sign(list: Omit<ListId, 'type'>, data: Buffer): Buffer {
    return this.mac({ ...list, type: 'feed' }, data);
  }

  private mac(list: ListId, head: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(head).update(Cursors.identity(list)).digest().subarray(0, MAC_BYTES);
  }

  /** What the mac reads after a cursor's head: each part length-prefixed, so no choice of ids can make two lists' inputs meet. */
  private static identity(list: Omit<ListId, 'type'>): Buffer {
    const parts: Buffer[] = [];
    for (const part of [list.ns, list.kind, list.scope]) {
      const p = Buffer.from(part, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      parts.push(len, p);
    }
    return Buffer.concat(parts);
  }
}
