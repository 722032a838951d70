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

/** RFC 3339 with any offset (Z, z, +hh:mm, -hh:mm) and up to nine fraction digits. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 time from a request (a real calendar date, any offset) as Unix ns; INVALID_ARGUMENT naming `field` otherwise. */
export function rfc3339ToNanos(field: string, value: string): Nanos {
  const m = RFC3339.exec(value);
  const bad = () => new AppError('INVALID_ARGUMENT', `${field} must be an RFC 3339 time of a real date, e.g. 2026-12-02T10:15:30Z or 2026-12-02T11:15:30.5+01:00`, { field });
  if (!m) throw bad();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) throw bad();
  const offsetMinutes = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (Number(m[10] ?? 0) > 23 || Number(m[11] ?? 0) > 59) throw bad();
  const utc = BigInt(Date.UTC(year, month - 1, day, hour, minute, second)) / 1000n - BigInt(offsetMinutes * 60);
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  const ns = utc * BILLION + fraction;
  return ns.toString();
}
