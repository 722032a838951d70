/**
 * Composition root: settings → store (embedded redis-server unless REDIS_URL
 * or REDIS_CLUSTER_NODES is set) → core → gRPC server. SIGTERM and SIGINT
 * drain: health turns NOT_SERVING, new calls are refused, in-flight calls
 * finish (up to SHUTDOWN_TIMEOUT_MS), then Redis is closed and the process exits 0.
 */
import type { Server } from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import { loadConfig } from './config';
import { Containers } from './core/containers';
import { Throttle } from './core/throttle';
import { KeyRing, loadOrCreateDefaultKey, parseApiKeys } from './auth/api-keys';
import { createLogger, type Logger } from './log';
import { serveMetrics } from './metrics/serve';
import { registry } from './metrics/service';
import { bind, buildServer, SERVICE_NAMES } from './server';
import { startEmbeddedRedis, type EmbeddedRedis } from './store/embedded';
import { RedisStore } from './store/redis-store';

async function main(): Promise<void> {
  const cfg = loadConfig();
  const log = createLogger(cfg.logLevel, 'parley');

  // Signals are handled from the first moment, so a SIGTERM during start-up
  // also stops cleanly. Each started part registers how to stop it; they
  // stop in reverse order (the gRPC server, which drains, first).
  const stoppers: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      log.info({ signal }, 'draining');
      for (const s of stoppers.reverse()) await s();
      log.info('stopped');
      // Let pino flush and the loop empty; exit anyway if something lingers.
      process.exitCode = 0;
      setTimeout(() => process.exit(0), 1000).unref();
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  let embedded: EmbeddedRedis | undefined;
  let url = cfg.redisUrl;
  if (!url && !cfg.redisClusterNodes) {
    const e = await startEmbeddedRedis({ dataDir: cfg.dataDir, bin: cfg.redisServerBin, log });
    stoppers.push(() => e.stop());
    embedded = e;
    url = e.url;
  }
  if (stopping) return;
  const store = await RedisStore.connect({
    url,
    clusterNodes: cfg.redisClusterNodes,
    commandTimeoutMs: cfg.redisCommandTimeoutMs,
  });
  stoppers.push(() => store.close());
  const throttle = new Throttle(store, cfg.rate);
  const core = new Containers(store, cfg.limits, throttle);
  const { server, health } = buildServer(core, log, {
    throttle,
    maxReceiveBytes: cfg.grpcMaxReceiveBytes,
    maxSendBytes: cfg.grpcMaxSendBytes,
    keys: loadKeys(cfg.apiKeys, cfg.dataDir, log),
  });
  if (stopping) return;
  const metrics = await serveMetrics(registry, cfg.host, cfg.metricsPort);
  stoppers.push(() => new Promise<void>((done) => metrics.server.close(() => done())));
  log.info({ port: metrics.port }, 'metrics at /metrics');
  const port = await bind(server, `${cfg.host}:${cfg.grpcPort}`);
  stoppers.push(() => drain(server, health, cfg.shutdownTimeoutMs, log));
  if (stopping) return;
  for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'SERVING');
  log.info({ host: cfg.host, port, store: embedded ? 'embedded' : 'external' }, 'gRPC server listening');
}

/** Health NOT_SERVING, refuse new calls, let in-flight ones finish (force-close after the timeout). */
function drain(server: Server, health: HealthImplementation, timeoutMs: number, log: Logger): Promise<void> {
  for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'NOT_SERVING');
  return new Promise<void>((done) => {
    const timer = setTimeout(() => {
      log.warn('drain timed out; closing remaining calls');
      server.forceShutdown();
      done();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      done();
    });
  });
}

/** API_KEYS, or the default key kept in DATA_DIR (printed once, on stderr, never logged). */
function loadKeys(apiKeys: string | undefined, dataDir: string, log: Logger): KeyRing {
  if (apiKeys) {
    const keys = parseApiKeys(apiKeys);
    log.info({ namespaces: [...new Set(keys.map((k) => k.namespace))] }, 'API keys from API_KEYS');
    return new KeyRing(keys);
  }
  const { key, created, file } = loadOrCreateDefaultKey(dataDir);
  if (created) {
    process.stderr.write(
      [
        '',
        `A new API key for namespace "${key.namespace}" was created and saved in ${file} (mode 0600).`,
        'Send it on every call:',
        `  grpc:  -H 'authorization: Bearer ${key.token}'`,
        `  http:  -H 'Authorization: Bearer ${key.token}'`,
        'It is printed only this once; read it again from that file. Set API_KEYS to use your own keys.',
        '',
      ].join('\n') + '\n',
    );
  }
  log.info({ namespace: key.namespace, file }, created ? 'created the default API key' : 'using the default API key');
  return new KeyRing([key]);
}

main().catch((err: unknown) => {
  // Startup failed (bad settings, no redis-server, port taken): say why and exit non-zero.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
