/**
 * The real gRPC service in the test process, on a real socket (127.0.0.1, a
 * free port), over a real Redis. Several can share one Redis, as several
 * service instances would.
 */
import type { ReadSlotPolicy } from '../../src/core/read-slots';
import { KeyRing } from '../../src/auth/api-keys';
import { NO_RATE_LIMITS, type RatePolicy } from '../../src/core/throttle';
import { defaultLimits, type Limits } from '../../src/core/limits';
import { createLogger } from '../../src/log';
import { loadConfig } from '../../src/config';
import type { Calls } from '../../src/ops/calls';
import type { GrpcLimits } from '../../src/transports/grpc/guard';
import { buildCalls } from '../../src/service';
import { bind, buildServer, SERVICE_NAMES } from '../../src/transports/grpc/server';
import { RedisStore } from '../../src/store/redis-store';
import { RedisWake } from '../../src/store/redis-wake';
import { clients, type Clients } from './grpc';

/** The key tests call with (namespace `default`), and a second tenant's. */
export const TEST_TOKEN = 'test-token-default-0001';
export const OTHER_TOKEN = 'test-token-other-0002';
export const TEST_KEYS = [
  { namespace: 'default', token: TEST_TOKEN },
  { namespace: 'other', token: OTHER_TOKEN },
];

export interface TestService extends Clients {
  address: string;
  store: RedisStore;
  /** The operation table and call pipeline the gRPC server binds (the in-process HTTP transport binds it too). */
  calls: Calls;
  stop(): Promise<void>;
}

/**
 * The Redis command timeout of test services: generous, so a machine busy with
 * other work does not turn slow commands into UNAVAILABLE; tests of timeouts pass their own.
 */
export const TEST_COMMAND_TIMEOUT_MS = 10_000;

export async function startService(
  redisUrl: string,
  limits: Limits = defaultLimits,
  rate: RatePolicy = NO_RATE_LIMITS,
  commandTimeoutMs = TEST_COMMAND_TIMEOUT_MS,
  opts: { grpc?: Partial<GrpcLimits>; chatsMembersOnly?: boolean; reads?: ReadSlotPolicy } = {},
): Promise<TestService> {
  const log = createLogger('silent', 'test');
  const store = await RedisStore.connect({ url: redisUrl, commandTimeoutMs, feedRetention: limits.FEED_RETENTION_EVENTS, limits });
  const wake = await RedisWake.connect(store.options);
  const keys = new KeyRing(TEST_KEYS);
  const calls = await buildCalls(store, { limits, rate, keys, wake, chatsMembersOnly: opts.chatsMembersOnly, reads: opts.reads }, log);
  const grpcLimits = { ...loadConfig({}).grpc, ...opts.grpc };
  const { server, health } = buildServer(calls, log, { maxReceiveBytes: 4 << 20, maxSendBytes: 64 << 20, keys, limits: grpcLimits });
  const port = await bind(server, '127.0.0.1:0', grpcLimits.maxConnections);
  for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'SERVING');
  const address = `127.0.0.1:${port}`;
  const c = clients(address, TEST_TOKEN);
  return {
    ...c,
    address,
    store,
    calls,
    async stop() {
      c.close();
      calls.endStreams();
      await new Promise<void>((done) => server.tryShutdown(() => done()));
      await wake.close();
      await store.close();
    },
  };
}
