/**
 * The two processes every benchmark phase measures against: a fresh
 * redis-server with the service's own persistence, and the service
 * (dist/src/main.js, as `make start` runs it) on it. Both go through
 * procs.ts, so they are stopped by PID at the end, also on failure.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, httpStatus, spawnTracked, tcpOpen, waitUntil, type Tracked } from './procs';

export interface RedisProc {
  proc: Tracked;
  port: number;
  url: string;
  /** A client of the runner's own. */
  redis: Redis;
}

/** redis-server in `<dir>/redis`, with the persistence the service gives its embedded one (src/store/embedded.ts). */
export async function startRedis(dir: string): Promise<RedisProc> {
  const port = await freePort();
  mkdirSync(join(dir, 'redis'), { recursive: true });
  const proc = spawnTracked('redis-server', 'redis-server', [
    '--bind', '127.0.0.1', '--port', String(port), '--protected-mode', 'yes', '--dir', join(dir, 'redis'),
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--loglevel', 'warning',
  ]);
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  await waitUntil('redis-server', proc, async () => {
    if (redis.status === 'wait') await redis.connect();
    return (await redis.ping()) === 'PONG';
  });
  return { proc, port, url: `redis://127.0.0.1:${port}`, redis };
}

export interface ServiceProc {
  proc: Tracked;
  grpcPort: number;
  httpPort: number;
}

export interface ServiceOptions {
  /** Path of the build's dist/src/main.js. */
  main: string;
  redisUrl: string;
  /** `API_KEYS`, e.g. `default:<token>`. */
  apiKeys: string;
  dataDir: string;
  /** Node flags before the script (e.g. --cpu-prof …). */
  nodeArgs?: string[];
  /** More environment (e.g. METRICS_PORT, GRPC_MAX_CONCURRENT_STREAMS); the runner's own is inherited. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the service on free ports (both chosen here: with LOG_LEVEL=warn the "gRPC server listening"
 * line that carries them is not logged). Does not wait: see serviceReady.
 */
export async function startService(name: string, o: ServiceOptions): Promise<ServiceProc> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const proc = spawnTracked(name, process.execPath, [...(o.nodeArgs ?? []), o.main], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      ...o.env,
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      REDIS_URL: o.redisUrl,
      API_KEYS: o.apiKeys,
      DATA_DIR: o.dataDir,
    },
  });
  return { proc, grpcPort, httpPort };
}

/** Waits for the service's gRPC port and for /healthz 200 on its HTTP port. */
export async function serviceReady(s: ServiceProc): Promise<void> {
  await waitUntil(`${s.proc.name} on port ${s.grpcPort}`, s.proc, () => tcpOpen(s.grpcPort));
  await waitUntil(`${s.proc.name} /healthz on HTTP port ${s.httpPort}`, s.proc, async () => (await httpStatus(s.httpPort, '/healthz')) === 200);
}
