/**
 * What the live-feed runner (feed.ts) asks of its load process (feed-load.ts),
 * and what it answers. The spec goes in a JSON file (thousands of thread ids
 * do not fit one environment variable); the answer is one `RESULT <json>` or
 * `READY <json>` line on the load process's stdout.
 */

/**
 * Publish → deliver latency. The load process is the writer and all the subscribers:
 * - `service`: each subscriber a gRPC Subscribe on the service (spread over `connections` HTTP/2
 *   connections), the writer gRPC CreateMessage on a connection of its own;
 * - `floor-connections`: each subscriber its own Redis connection SUBSCRIBEd to its thread's channel
 *   (Redis does the fan-out), the writer PUBLISHes one Event-shaped payload per message;
 * - `floor-callbacks`: one Redis connection SUBSCRIBEd to the 10 channels, and per channel 10 listener
 *   callbacks in the process (the process does the fan-out, as the service's hub does).
 */
export interface LatencySpec {
  mode: 'service' | 'floor-connections' | 'floor-callbacks';
  /** The service's gRPC port, or Redis's port for the floors. */
  port: number;
  token: string;
  /** The containers: one channel each for the floors. */
  threadIds: string[];
  subscribersPerThread: number;
  /** HTTP/2 connections the service's subscribers are spread over. */
  connections: number;
  /** Messages per second, over all threads (message i goes to thread i mod threads). */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  /** Floors: length of the cursor in the published Event (that of the service's feed cursors), so both carry the same bytes. */
  cursorLength: number;
}

/** N idle Subscribe calls on the service, subscriber i following threadIds[i]; held until SIGTERM. */
export interface IdleSpec {
  mode: 'idle';
  port: number;
  token: string;
  threadIds: string[];
  streamsPerConnection: number;
}

export type FeedLoadSpec = LatencySpec | IdleSpec;

export interface LatencyResult {
  mode: LatencySpec['mode'];
  /** Latency samples: one per event delivered to a subscriber of a measured (not warm-up) message. */
  samples: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Events the subscribers should have had of the measured messages, and the distinct ones they had. */
  expected: number;
  received: number;
  duplicates: number;
  /** Events that came after a later one of the same thread (by seq). */
  outOfOrder: number;
  /** Messages the writer sent (warm-up included), and failed sends. */
  sent: number;
  sendErrors: number;
  /** How late the writer sent the measured messages against their schedule (open loop), ms. */
  lateP99Ms: number;
  lateMaxMs: number;
  /** Measured messages per second as sent. */
  achievedRate: number;
  /** Bytes of one event as a subscriber received it (protobuf), the first one seen. */
  eventBytes: number;
  /** p99 and max latency of the messages sent in each second of the measured time: a backlog grows, a stall is one second. */
  p99BySecondMs: number[];
  maxBySecondMs: number[];
  /** CPU of the load process (writer and subscribers) per message sent, µs, over its whole life. */
  loadCpuUs: number;
}

export interface IdleReady {
  open: number;
  connections: number;
  openSeconds: number;
}

/** The message text: its index and send time (ms since the load process's origin), padded to 100 bytes. */
export function stampedText(i: number, sentMs: number, pad: string): string {
  const head = `feed ${i} ${sentMs.toFixed(3)} `;
  return head + pad.slice(0, Math.max(0, 100 - head.length));
}

export function parseStamp(text: string): { i: number; sentMs: number } | undefined {
  const m = /^feed (\d+) (\d+\.\d+) /.exec(text);
  return m ? { i: Number(m[1]), sentMs: Number(m[2]) } : undefined;
}
