import fc from 'fast-check';
import { nanosToRfc3339, nanosToTimestamp, timestampToNanos } from '../../src/core/time';

/** The slow, obviously right conversion the fast one must match. */
function reference(ns: string): string {
  const n = BigInt(ns);
  const sec = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(Number(sec) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

it('nanosToRfc3339 matches the BigInt reference for any time the store can hold, in any order of calls', () => {
  fc.assert(
    fc.property(fc.array(fc.bigInt({ min: 10n ** 18n, max: 10n ** 19n - 1n }), { minLength: 1, maxLength: 20 }), (times) => {
      for (const t of times) expect(nanosToRfc3339(t.toString())).toBe(reference(t.toString()));
    }),
    { numRuns: 500 },
  );
  expect(nanosToRfc3339('1795452396725123456')).toBe('2026-11-23T16:46:36.725123456Z');
  expect(nanosToRfc3339('0')).toBe('1970-01-01T00:00:00.000000000Z');
});

it('Timestamp conversions round-trip exactly and refuse values outside the Timestamp range', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 253402300799n }), fc.integer({ min: 0, max: 999_999_999 }), (s, nanos) => {
      const ns = timestampToNanos('t', { seconds: s.toString(), nanos });
      expect(nanosToTimestamp(ns)).toEqual({ seconds: s, nanos });
    }),
  );
  expect(() => timestampToNanos('sent_before', { seconds: '253402300800', nanos: 0 })).toThrow(/sent_before/);
  expect(() => timestampToNanos('sent_before', { seconds: '0', nanos: -1 })).toThrow(/sent_before/);
});
