/**
 * Settings from the environment, each default written once, here. The README's
 * settings table lists the same names and defaults.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_READ_SLOTS, defaultLimits, type Limits } from './core/limits';
import type { ReadSlotPolicy } from './core/read-slots';
import type { RatePolicy } from './core/throttle';
import type { GrpcLimits } from './transports/grpc/guard';

/** The HTTP server's limits (gateway/serve.ts). */
export interface HttpLimits {
  maxConnections: number;
  /** From a connection's first byte (or a request's start) to the end of its headers. */
  headersTimeoutMs: number;
  /** From a request's start to its last body byte. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** SSE: a comment line this often on every open stream. */
  feedHeartbeatMs: number;
}

const port = (dflt: number) => z.coerce.number().int().min(0).max(65535).default(dflt);
const positive = (dflt: number) => z.coerce.number().int().positive().default(dflt);
const blankIsUnset = (v: unknown) => (v === '' ? undefined : v);

const schema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  GRPC_PORT: port(50051),
  HTTP_PORT: port(8080),
  /** Prometheus /metrics of the service (0: any free port, logged). */
  METRICS_PORT: port(9464),
  GRPC_TARGET: z.string().min(1).default('localhost:50051'),
  REDIS_URL: z.preprocess(blankIsUnset, z.string().url().optional()),
  REDIS_CLUSTER_NODES: z.preprocess(blankIsUnset, z.string().optional()),
  DATA_DIR: z.string().min(1).default('./data'),
  API_KEYS: z.preprocess(blankIsUnset, z.string().optional()),
  /** Signs cursors (base64, ≥ 16 bytes); unset: a secret kept in Redis, shared by every instance. */
  CURSOR_SECRET: z.preprocess(blankIsUnset, z.string().optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Every Redis command fails (UNAVAILABLE) after this long. */
  REDIS_COMMAND_TIMEOUT_MS: positive(2000),
  /** How long SIGTERM waits for in-flight calls before closing them. */
  SHUTDOWN_TIMEOUT_MS: positive(10_000),
  /** The redis-server binary for the embedded store. */
  REDIS_SERVER_BIN: z.string().min(1).default('redis-server'),
  /** gRPC: largest request accepted, and largest response sent. */
  GRPC_MAX_RECEIVE_BYTES: positive(4 * 1024 * 1024),
  GRPC_MAX_SEND_BYTES: positive(64 * 1024 * 1024),
  /** gRPC connections and streams (src/transports/grpc/guard.ts). */
  GRPC_MAX_CONCURRENT_STREAMS: positive(100),
  GRPC_MAX_CONNECTIONS: positive(1000),
  GRPC_MAX_CONNECTION_IDLE_MS: positive(300_000),
  GRPC_MAX_CONNECTION_AGE_MS: z.coerce.number().int().min(0).default(3_600_000),
  GRPC_MAX_CONNECTION_AGE_GRACE_MS: positive(30_000),
  GRPC_KEEPALIVE_TIME_MS: positive(60_000),
  GRPC_KEEPALIVE_TIMEOUT_MS: positive(20_000),
  GRPC_MAX_SESSION_MEMORY_MIB: positive(32),
  GRPC_REQUEST_TIMEOUT_MS: positive(10_000),
  /** Unary replies written but not yet taken by one namespace's callers (flow control), in bytes. */
  NAMESPACE_UNSENT_REPLY_BYTES: positive(64 * 1024 * 1024),
  GRPC_REPLY_SEND_TIMEOUT_MS: positive(60_000),
  /** HTTP connections and timeouts (gateway/serve.ts). */
  HTTP_MAX_CONNECTIONS: positive(1000),
  HTTP_HEADERS_TIMEOUT_MS: positive(5_000),
  HTTP_REQUEST_TIMEOUT_MS: positive(15_000),
  HTTP_KEEPALIVE_TIMEOUT_MS: positive(5_000),
  /** Token buckets (0 = no limit, the default). Bursts default to the rate. */
  RATE_LIMIT_RPS: z.coerce.number().min(0).default(0),
  RATE_LIMIT_BURST: z.coerce.number().int().min(0).default(0),
  RATE_LIMIT_CONTAINER_RPS: z.coerce.number().min(0).default(0),
  RATE_LIMIT_CONTAINER_BURST: z.coerce.number().int().min(0).default(0),
  MAX_TEXT_BYTES: positive(defaultLimits.MAX_TEXT_BYTES),
  MAX_TOPIC_BYTES: positive(defaultLimits.MAX_TOPIC_BYTES),
  MAX_ID_BYTES: positive(defaultLimits.MAX_ID_BYTES),
  MAX_IDS_PER_CALL: positive(defaultLimits.MAX_IDS_PER_CALL),
  MAX_PAGE_SIZE: positive(defaultLimits.MAX_PAGE_SIZE),
  MAX_OFFSET: positive(defaultLimits.MAX_OFFSET),
  MAX_RECENT_PER_CONTAINER: positive(defaultLimits.MAX_RECENT_PER_CONTAINER),
  MAX_RECENT_CONTAINERS: positive(defaultLimits.MAX_RECENT_CONTAINERS),
  MAX_REPLY_BYTES: positive(defaultLimits.MAX_REPLY_BYTES),
  MAX_METADATA_KEYS: positive(defaultLimits.MAX_METADATA_KEYS),
  MAX_METADATA_KEY_BYTES: positive(defaultLimits.MAX_METADATA_KEY_BYTES),
  MAX_METADATA_BYTES: positive(defaultLimits.MAX_METADATA_BYTES),
  GET_UNREAD_MAX_CONTAINERS: positive(defaultLimits.GET_UNREAD_MAX_CONTAINERS),
  MAX_PARTICIPANTS: positive(defaultLimits.MAX_PARTICIPANTS),
  FEED_RETENTION_EVENTS: positive(defaultLimits.FEED_RETENTION_EVENTS),
  FEED_MAX_BUFFERED_EVENTS: positive(defaultLimits.FEED_MAX_BUFFERED_EVENTS),
  FEED_MAX_USER_CHATS: positive(defaultLimits.FEED_MAX_USER_CHATS),
  /** SendMessage from an author who is not one of the chat's users: NOT_A_MEMBER (default off, as m3o). */
  CHATS_ENFORCE_MEMBERSHIP: z.enum(['true', 'false', '1', '0']).default('false'),
  /** A comment line on every open SSE stream this often, so proxies keep it open. */
  FEED_HEARTBEAT_MS: positive(15_000),
  NAMESPACE_READS_IN_FLIGHT: positive(DEFAULT_READ_SLOTS.inFlight),
  NAMESPACE_READS_QUEUED: z.coerce.number().int().min(0).default(DEFAULT_READ_SLOTS.queued),
  NAMESPACE_READS_SHARE: z.coerce.number().gt(0).max(1).default(DEFAULT_READ_SLOTS.share),
});

export interface Config {
  host: string;
  grpcPort: number;
  httpPort: number;
  metricsPort: number;
  grpcTarget: string;
  redisUrl?: string;
  redisClusterNodes?: { host: string; port: number }[];
  dataDir: string;
  apiKeys?: string;
  cursorSecret?: Buffer;
  logLevel: string;
  redisCommandTimeoutMs: number;
  shutdownTimeoutMs: number;
  redisServerBin: string;
  grpcMaxReceiveBytes: number;
  grpcMaxSendBytes: number;
  grpc: GrpcLimits;
  http: HttpLimits;
  limits: Limits;
  rate: RatePolicy;
  reads: ReadSlotPolicy;
  chatsMembersOnly: boolean;
}

/** Room for protobuf framing and timestamps beside MAX_REPLY_BYTES of ids and texts (≈100 B × 10,000 messages). */
const REPLY_FRAMING_BYTES = 4 * 1024 * 1024;

/** Reads the settings; a bad value stops the start with a message naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid settings: ${problems}`);
  }
  const e = parsed.data;
  // A reply within MAX_REPLY_BYTES must also fit the gRPC send limit, framing included.
  if (e.MAX_REPLY_BYTES + REPLY_FRAMING_BYTES > e.GRPC_MAX_SEND_BYTES) {
    throw new Error(`Invalid settings: MAX_REPLY_BYTES (${e.MAX_REPLY_BYTES}) must be at least ${REPLY_FRAMING_BYTES} below GRPC_MAX_SEND_BYTES (${e.GRPC_MAX_SEND_BYTES})`);
  }
  return Object.freeze({
    host: e.HOST,
    grpcPort: e.GRPC_PORT,
    httpPort: e.HTTP_PORT,
    metricsPort: e.METRICS_PORT,
    grpcTarget: e.GRPC_TARGET,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES?.split(',').map(parseHostPort),
    dataDir: resolve(e.DATA_DIR),
    apiKeys: e.API_KEYS,
    cursorSecret: e.CURSOR_SECRET === undefined ? undefined : cursorSecretOf(e.CURSOR_SECRET),
    logLevel: e.LOG_LEVEL,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    redisServerBin: e.REDIS_SERVER_BIN,
    grpcMaxReceiveBytes: e.GRPC_MAX_RECEIVE_BYTES,
    grpcMaxSendBytes: e.GRPC_MAX_SEND_BYTES,
    grpc: Object.freeze({
      maxConcurrentStreams: e.GRPC_MAX_CONCURRENT_STREAMS,
      maxConnections: e.GRPC_MAX_CONNECTIONS,
      maxConnectionIdleMs: e.GRPC_MAX_CONNECTION_IDLE_MS,
      maxConnectionAgeMs: e.GRPC_MAX_CONNECTION_AGE_MS,
      maxConnectionAgeGraceMs: e.GRPC_MAX_CONNECTION_AGE_GRACE_MS,
      keepaliveTimeMs: e.GRPC_KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: e.GRPC_KEEPALIVE_TIMEOUT_MS,
      maxSessionMemoryMiB: e.GRPC_MAX_SESSION_MEMORY_MIB,
      requestTimeoutMs: e.GRPC_REQUEST_TIMEOUT_MS,
      namespaceUnsentReplyBytes: e.NAMESPACE_UNSENT_REPLY_BYTES,
      replySendTimeoutMs: e.GRPC_REPLY_SEND_TIMEOUT_MS,
    }),
    http: Object.freeze({
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEPALIVE_TIMEOUT_MS,
      feedHeartbeatMs: e.FEED_HEARTBEAT_MS,
    }),
    reads: Object.freeze({ inFlight: e.NAMESPACE_READS_IN_FLIGHT, queued: e.NAMESPACE_READS_QUEUED, share: e.NAMESPACE_READS_SHARE }),
    chatsMembersOnly: e.CHATS_ENFORCE_MEMBERSHIP === 'true' || e.CHATS_ENFORCE_MEMBERSHIP === '1',
    rate: Object.freeze({
      namespaceRps: e.RATE_LIMIT_RPS,
      namespaceBurst: e.RATE_LIMIT_BURST,
      containerRps: e.RATE_LIMIT_CONTAINER_RPS,
      containerBurst: e.RATE_LIMIT_CONTAINER_BURST,
    }),
    limits: Object.freeze({
      MAX_TEXT_BYTES: e.MAX_TEXT_BYTES,
      MAX_TOPIC_BYTES: e.MAX_TOPIC_BYTES,
      MAX_ID_BYTES: e.MAX_ID_BYTES,
      MAX_IDS_PER_CALL: e.MAX_IDS_PER_CALL,
      MAX_PAGE_SIZE: e.MAX_PAGE_SIZE,
      MAX_OFFSET: e.MAX_OFFSET,
      MAX_RECENT_PER_CONTAINER: e.MAX_RECENT_PER_CONTAINER,
      MAX_RECENT_CONTAINERS: e.MAX_RECENT_CONTAINERS,
      MAX_REPLY_BYTES: e.MAX_REPLY_BYTES,
      MAX_METADATA_KEYS: e.MAX_METADATA_KEYS,
      MAX_METADATA_KEY_BYTES: e.MAX_METADATA_KEY_BYTES,
      MAX_METADATA_BYTES: e.MAX_METADATA_BYTES,
      GET_UNREAD_MAX_CONTAINERS: e.GET_UNREAD_MAX_CONTAINERS,
      MAX_PARTICIPANTS: e.MAX_PARTICIPANTS,
      FEED_RETENTION_EVENTS: e.FEED_RETENTION_EVENTS,
      FEED_MAX_BUFFERED_EVENTS: e.FEED_MAX_BUFFERED_EVENTS,
      FEED_MAX_USER_CHATS: e.FEED_MAX_USER_CHATS,
    }),
  });
}

function cursorSecretOf(v: string): Buffer {
  const b = Buffer.from(v, 'base64');
  if (b.length < 16) throw new Error('Invalid settings: CURSOR_SECRET must be base64 of at least 16 bytes');
  return b;
}

function parseHostPort(s: string): { host: string; port: number } {
  const i = s.trim().lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`Invalid settings: REDIS_CLUSTER_NODES entry "${s}" is not host:port`);
  }
  return { host: s.trim().slice(0, i), port };
}
