/**
 * Conversions of the store's time (Unix nanoseconds as a decimal string) to
 * each API's wire type, exact to the nanosecond (never through a JS number).
 */
import { AppError } from './errors';
import type { Nanos } from './model';

const BILLION = 1_000_000_000n;
/** google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_SECONDS = -62135596800n;
const MAX_SECONDS = 253402300799n;

const PLAIN = /^[1-9]\d{9,18}$/;
let lastSec = '';
let lastIso = '';

/** RFC 3339 in UTC with nine fractional digits, e.g. 2026-11-22T10:15:30.123456789Z. */
export function nanosToRfc3339(ns: Nanos): string {
  // Every stored time (2001..2286) is 19 digits: cut the string, no BigInt.
  if (PLAIN.test(ns)) {
    const sec = ns.slice(0, -9);
    // Date#toISOString is most of the cost; a page's messages mostly share their second.
    if (sec !== lastSec) {
      lastSec = sec;
      lastIso = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
    }
    return `${lastIso}.${ns.slice(-9)}Z`;
  }
  const n = BigInt(ns);
  const sec = n / BILLION;
  const frac = (n % BILLION).toString().padStart(9, '0');
  return new Date(Number(sec) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

export function nanosToTimestamp(ns: Nanos): { seconds: bigint; nanos: number } {
  const n = BigInt(ns);
  return { seconds: n / BILLION, nanos: Number(n % BILLION) };
}

/** A Timestamp from the wire, checked against its documented range. */
export function timestampToNanos(field: string, ts: { seconds: bigint | string; nanos: number }): Nanos {
  let seconds: bigint;
  try {
    seconds = BigInt(ts.seconds);
  } catch {
    throw new AppError('INVALID_ARGUMENT', `${field} has invalid seconds`, { field });
  }
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || ts.nanos < 0 || ts.nanos >= 1e9 || !Number.isInteger(ts.nanos)) {
    throw new AppError('INVALID_ARGUMENT', `${field} is outside the Timestamp range`, { field });
  }
  return (seconds * BILLION + BigInt(ts.nanos)).toString();
}
