/**
 * The SSE `id:` of a live-feed event: where the whole subscription stands,
 * so a reconnect with `Last-Event-ID` resumes every container of it with no
 * gap and no duplicate (a browser's EventSource keeps only the last id).
 *
 *   base64url( version 1 | per container: hint (6 bytes) | position (LEB128) | mac (8 bytes) )
 *
 * A container at position 0 (nothing yet) is left out: a reconnect starts it
 * at 0, which replays whatever it gained meanwhile. The hint is the feed
 * cursor's (core/cursors.ts), the mac binds the id to the namespace, the API
 * and the user of a user subscription.
 */
import { AppError } from '../core/errors';
import { scopeHint, type Cursors } from '../core/cursors';
import type { Kind } from '../core/model';

const VERSION = 1;
const MAC_BYTES = 8;
const HINT_BYTES = 6;

export interface ResumeScope {
  ns: string;
  kind: Kind;
  /** The user of a user subscription, else "". */
  scope: string;
}

/** Hints by container id: one hash per container per subscription, not per event. */
export class HintCache {
  private readonly byId = new Map<string, Buffer>();
  get(id: string): Buffer {
    let h = this.byId.get(id);
    if (!h) this.byId.set(id, (h = Buffer.from(scopeHint(id), 'hex')));
    return h;
  }
}

export function encodeResumeId(cursors: Cursors, s: ResumeScope, positions: ReadonlyMap<string, number>, hints: HintCache): string {
  const parts: Buffer[] = [Buffer.of(VERSION)];
  for (const [id, pos] of positions) {
    if (pos <= 0) continue;
    parts.push(hints.get(id), leb128(pos));
  }
  const data = Buffer.concat(parts);
  return Buffer.concat([data, cursors.sign(s, data).subarray(0, MAC_BYTES)]).toString('base64url');
}

/** Positions by container hint (hex); INVALID_CURSOR naming Last-Event-ID for anything but an id of this subscription's scope. */
export function decodeResumeId(cursors: Cursors, s: ResumeScope, id: string): Map<string, number> {
  const bad = () => new AppError('INVALID_CURSOR', 'Last-Event-ID is not an event id of this subscription', { field: 'Last-Event-ID' });
  if (id.length > 16384 || !/^[A-Za-z0-9_-]+$/.test(id)) throw bad();
  const b = Buffer.from(id, 'base64url');
  if (b.length < 1 + MAC_BYTES || b[0] !== VERSION) throw bad();
  const data = b.subarray(0, b.length - MAC_BYTES);
  if (!cursors.sign(s, data).subarray(0, MAC_BYTES).equals(b.subarray(b.length - MAC_BYTES))) throw bad();
  const out = new Map<string, number>();
  let i = 1;
  while (i < data.length) {
    if (i + HINT_BYTES >= data.length) throw bad();
    const hint = data.subarray(i, i + HINT_BYTES).toString('hex');
    i += HINT_BYTES;
    let pos = 0;
    let mul = 1;
    for (;;) {
      if (i >= data.length || mul > 2 ** 49) throw bad();
      const byte = data[i++];
      pos += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) break;
    }
    out.set(hint, pos);
  }
  return out;
}

function leb128(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}
