/**
 * Connections must never use up the process's file descriptors: at the limit
 * a spawn (the embedded Redis's restart), a log file or Redis's own
 * connection fails. The connection limits are fitted under the soft limit
 * with room to spare (Node raises the soft limit to the hard one at start;
 * `make start` and the image ask for it too).
 */
import { readFileSync } from 'node:fs';

/** Descriptors kept for everything that is not a gRPC or HTTP client connection (Redis, files, pipes, the metrics port's 16). */
export const FD_RESERVE = 128;

/** The soft RLIMIT_NOFILE of this process, when /proc says it. */
export function softFdLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The two connection limits, lowered in proportion when together they would not fit under `limit`. */
export function fitConnections(grpc: number, http: number, limit: number | undefined): { grpc: number; http: number; lowered: boolean } {
  if (limit === undefined || grpc + http + FD_RESERVE <= limit) return { grpc, http, lowered: false };
  const room = Math.max(2, limit - FD_RESERVE);
  const g = Math.max(1, Math.floor((room * grpc) / (grpc + http)));
  return { grpc: g, http: Math.max(1, room - g), lowered: true };
}
