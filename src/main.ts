/**
 * Composition root: settings → store (embedded redis-server unless REDIS_URL
 * or REDIS_CLUSTER_NODES is set) → core → gRPC server. SIGTERM and SIGINT
 * drain: health turns NOT_SERVING, new calls are refused, in-flight calls
 * finish (up to SHUTDOWN_TIMEOUT_MS), then Redis is closed and the process exits 0.
 */
import { loadConfig } from './config';
import { Containers } from './core/containers';
import { Throttle } from './core/throttle';
import { KeyRing, loadOrCreateDefaultKey, parseApiKeys } from './auth/api-keys';
import { createLogger, type Logger } from './log';
import { serveMetrics } from './metrics';
import { bind, buildServer, SERVICE_NAMES } from './server';
import { startEmbeddedRedis, type EmbeddedRedis } from './store/embedded';
import { RedisStore } from './store/redis-store';

async function main(): Promise<void> {
  const cfg = loadConfig();
  const log = createLogger(cfg.logLevel, 'parley');

  let embedded: EmbeddedRedis | undefined;
  let url = cfg.redisUrl;
  if (!url && !cfg.redisClusterNodes) {
    embedded = await startEmbeddedRedis({ dataDir: cfg.dataDir, bin: cfg.redisServerBin, log });
    url = embedded.url;
  }
  const store = await RedisStore.connect({
    url,
    clusterNodes: cfg.redisClusterNodes,
    commandTimeoutMs: cfg.redisCommandTimeoutMs,
  });
  const throttle = new Throttle(store, cfg.rate);
  const core = new Containers(store, cfg.limits, throttle);
  const { server, health } = buildServer(core, log, {
    throttle,
    maxReceiveBytes: cfg.grpcMaxReceiveBytes,
    maxSendBytes: cfg.grpcMaxSendBytes,
    keys: loadKeys(cfg.apiKeys, cfg.dataDir, log),
  });
  const port = await bind(server, `${cfg.host}:${cfg.grpcPort}`);
  const metrics = await serveMetrics(cfg.host, cfg.metricsPort);
  log.info({ port: metrics.port }, 'metrics at /metrics');
  for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'SERVING');
  log.info({ host: cfg.host, port, store: embedded ? 'embedded' : 'external' }, 'gRPC server listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'NOT_SERVING');
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        log.warn('drain timed out; closing remaining calls');
        server.forceShutdown();
        done();
      }, cfg.shutdownTimeoutMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        done();
      });
    });
    metrics.server.close();
    await store.close();
    await embedded?.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
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
