/**
 * What the live-feed runner (feed.ts) asks of its load process (feed-load.ts),
 * and what it answers. The spec goes in a JSON file (thousands of thread ids
 * do not fit one environment variable); the answer is one `RESULT <json>` or
 * `READY <json>` line on the load process's stdout.
 */

/**
 * Publish → deliver latency: the publisher and every subscriber in one process (role `both`, the
 * default), or in two (BENCH_FEED_PROCESSES=2: role `subscribers`, then role `publisher`, open loop).
 * The modes:
 * - `service`: each subscriber a gRPC Subscribe on the service (spread over `connections` HTTP/2
 *   connections), the publisher gRPC CreateMessage on a connection of its own;
 * - `floor-connections`: each subscriber its own Redis connection SUBSCRIBEd to its thread's channel
 *   (Redis does the fan-out), the publisher PUBLISHes one Event-shaped payload per message;
 * - `floor-callbacks`: one Redis connection SUBSCRIBEd to the 10 channels, and per channel 10 listener
 *   callbacks in the process (the process does the fan-out, as the service's hub does).
 * Send times are on the machine's monotonic clock (process.hrtime), the same in both processes.
 */
export interface LatencySpec {
  mode: 'service' | 'floor-connections' | 'floor-callbacks';
  /** `both`: publisher and subscribers in one process (BENCH_FEED_PROCESSES=1). */
  role: 'publisher' | 'subscribers' | 'both';
  /** The service's gRPC port, or Redis's port for the floors. */
  port: number;
  token: string;
  /** The containers: one channel each for the floors. */
  threadIds: string[];
  subscribersPerThread: number;
  /** HTTP/2 connections the service's subscribers are spread over. */
  connections: number;
  /**
   * The service's gRPC client: `http2` (default) speaks gRPC on node:http2 directly (length-prefixed
   * protobuf frames, decoded with the same Event.decode as the floors' payloads), as bare as the floors'
   * Redis clients; `grpc-js` uses @grpc/grpc-js (for diagnosis: it costs the load processes about
   * twice the CPU, bench/README.md).
   */
  client?: 'http2' | 'grpc-js';
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

/** What the subscribers process answers. */
export interface SubscribersResult {
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
  /** Bytes of one event as a subscriber received it (protobuf), the first one seen. */
  eventBytes: number;
  /** p99 and max latency of the messages sent in each second of the measured time: a backlog grows, a stall is one second. */
  p99BySecondMs: number[];
  maxBySecondMs: number[];
  /** The process's CPU over its whole life, µs. */
  cpuUs: number;
}

/** What the publisher process answers. */
export interface PublisherResult {
  /** Messages sent (warm-up included), and failed sends. */
  sent: number;
  sendErrors: number;
  firstError: string;
  /** How late the publisher sent the measured messages against their schedule (open loop), ms. */
  lateP99Ms: number;
  lateMaxMs: number;
  /** Measured messages per second as sent. */
  achievedRate: number;
  /** The process's CPU over its whole life, µs. */
  cpuUs: number;
}

/** What a `both` process answers (its CPU is in each: the whole process's). */
export interface BothResult {
  publisher: PublisherResult;
  subscribers: SubscribersResult;
}

/** One latency run: both answers, as the runner joins them. */
export interface LatencyResult extends Omit<SubscribersResult, 'cpuUs'>, Omit<PublisherResult, 'cpuUs'> {
  mode: LatencySpec['mode'];
  /** CPU of the load processes (publisher + subscribers) per message sent, µs, over their whole lives; and each. */
  loadCpuUs: number;
  publisherCpuUs: number;
  subscribersCpuUs: number;
}

export interface IdleReady {
  open: number;
  connections: number;
  openSeconds: number;
}

/** Now on the machine's monotonic clock (the same in every process), ms. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The message text: its index and send time (monotonicMs), padded to 100 bytes. */
export function stampedText(i: number, sentMs: number, pad: string): string {
  const head = `feed ${i} ${sentMs.toFixed(3)} `;
  return head + pad.slice(0, Math.max(0, 100 - head.length));
}

export function parseStamp(text: string): { i: number; sentMs: number } | undefined {
  const m = /^feed (\d+) (\d+\.\d+) /.exec(text);
  return m ? { i: Number(m[1]), sentMs: Number(m[2]) } : undefined;
}
