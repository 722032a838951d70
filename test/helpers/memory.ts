/**
 * The memory of a process, as the kernel counts it (/proc/<pid>/status):
 * what the memory-bound tests of the hardening issue measure of the service
 * process while a flood is held.
 */
import { readFileSync } from 'node:fs';

/** Resident set size of `pid`, in bytes. */
export function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Samples the RSS of `pid` every `everyMs` until stop(), which returns the highest sample. */
export function peakRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = rss(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid));
    } catch {
      // The process is gone; the last sample stands.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, rss(pid));
      } catch {
        // as above
      }
      return peak;
    },
  };
}

export const MiB = 1024 * 1024;
