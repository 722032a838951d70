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

/** RFC 3339 in UTC with nine fractional digits, e.g. 2026-11-22T10:15:30.123456789Z. */
export function nanosToRfc3339(ns: Nanos): string {
  const n = BigInt(ns);
  const sec = n / BILLION;
  const frac = (n % BILLION).toString().padStart(9, '0');
  return new Date(Number(sec) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

export function nanosToTimestamp(ns: Nanos): { seconds: string; nanos: number } {
  const n = BigInt(ns);
  return { seconds: (n / BILLION).toString(), nanos: Number(n % BILLION) };
}

/** A Timestamp from the wire, checked against its documented range. */
export function timestampToNanos(field: string, ts: { seconds: string; nanos: number }): Nanos {
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
