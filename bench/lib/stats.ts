/** Small statistics helpers. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

export function max(xs: readonly number[]): number {
  return xs.length ? Math.max(...xs) : NaN;
}

/** Nearest-rank percentile of a sorted array (q in 0..100). */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** "12.3k", "456", "1.20M". */
export function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)}k`;
  return x.toFixed(0);
}

/** Milliseconds with sensible precision. */
export function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : '-';
}
