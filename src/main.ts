/**
 * Composition root: settings → store (embedded redis-server unless REDIS_URL
 * or REDIS_CLUSTER_NODES is set) → operations → gRPC on GRPC_PORT and the
 * JSON transport on HTTP_PORT, both in this process over the same operation
 * table. SIGTERM and SIGINT drain: health turns NOT_SERVING, new calls are
 * refused, in-flight calls finish (up to SHUTDOWN_TIMEOUT_MS), then Redis is
 * closed and the process exits 0.
 */
import type { Server } from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import { Registry } from 'prom-client';
import { createGateway } from '../gateway/app';
import { inProcess } from '../gateway/dispatch';
import { gatewayRegistry } from '../gateway/metrics';
import { serveHttp } from '../gateway/serve';
import { loadGatewaySettings, type GatewaySettings } from '../gateway/settings';
import type { Config } from './config';
import { KeyRing, loadOrCreateDefaultKey, parseApiKeys } from './auth/api-keys';
import { createLogger, type Logger } from './log';
import { serveMetrics } from './metrics/serve';
import { collectProcessMetrics, registry } from './metrics/service';
import { fitConnections, softFdLimit } from './fd-budget';
import { buildCalls } from './service';
import { bind, buildServer, SERVICE_NAMES } from './transports/grpc/server';
import { startEmbeddedRedis, type EmbeddedRedis } from './store/embedded';
import { RedisStore } from './store/redis-store';
import { RedisWake } from './store/redis-wake';

/** Set once an embedded Redis runs: stops its restarts. */
let haltEmbedded: () => void = () => undefined;
/** Set once the operations exist: ends open server streams (they are not drained like unary calls). */
let endStreams: () => void = () => undefined;

async function main(): Promise<void> {
  const http = loadGatewaySettings();
  const cfg = http.config;
  const log = createLogger(cfg.logLevel, 'parley');

  // Each started part registers how to stop it; they stop once, in reverse
  // order (the gRPC server, which drains, first). A failed start stops what it
  // had started (an embedded redis-server above all) before exiting 1.
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stoppers.splice(0).reverse()) await s().catch((err: unknown) => log.error({ err }, 'stopping a part failed'));
  };

  // Signals are handled from the first moment. A SIGTERM during start-up lets
  // the step under way finish (start-up starts nothing more after it), then
  // stops everything started.
  let stopping: Promise<void> | undefined;
  let startup: Promise<void> = Promise.resolve();
  const stop = (signal: string) => {
    // From the signal on, a redis-server that dies (a group SIGINT reaches it too) is not restarted:
    // a restart now would outlive the service.
    haltEmbedded();
    // Live-feed streams end at once with UNAVAILABLE, so their callers resume on another instance.
    endStreams();
    stopping ??= (async () => {
      log.info({ signal }, 'draining');
      await startup.catch(() => undefined);
      await stopAll();
      log.info('stopped');
      // Let pino flush and the loop empty; exit anyway if something lingers.
      process.exitCode = 0;
      setTimeout(() => process.exit(0), 1000).unref();
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  startup = start(cfg, http, log, stoppers, () => stopping !== undefined);
  try {
    await startup;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Starts the parts in order; returns early, starting nothing more, once `stopRequested()`. */
async function start(
  cfg: Config,
  httpSettings: GatewaySettings,
  log: Logger,
  stoppers: (() => Promise<void>)[],
  stopRequested: () => boolean,
): Promise<void> {
  // Settings that can be refused are checked before anything starts.
  const keys = loadKeys(cfg.apiKeys, cfg.dataDir, log);
  let embedded: EmbeddedRedis | undefined;
  if (!cfg.redisUrl && !cfg.redisClusterNodes) {
    const e = await startEmbeddedRedis({ dataDir: cfg.dataDir, bin: cfg.redisServerBin, log });
    stoppers.push(() => e.stop());
    embedded = e;
    haltEmbedded = () => e.noRestarts();
  }
  if (stopRequested()) return;
  const store = await RedisStore.connect({
    url: cfg.redisUrl,
    socket: embedded?.socket,
    clusterNodes: cfg.redisClusterNodes,
    commandTimeoutMs: cfg.redisCommandTimeoutMs,
    feedRetention: cfg.limits.FEED_RETENTION_EVENTS,
    limits: cfg.limits,
  });
  stoppers.push(() => store.close());
  const wake = await RedisWake.connect(store.options);
  stoppers.push(() => wake.close());
  const calls = await buildCalls(store, { limits: cfg.limits, rate: cfg.rate, reads: cfg.reads, keys, cursorSecret: cfg.cursorSecret, wake, chatsMembersOnly: cfg.chatsMembersOnly }, log);
  endStreams = () => calls.endStreams();
  const fds = softFdLimit();
  const conns = fitConnections(cfg.grpc.maxConnections, cfg.http.maxConnections, fds);
  if (conns.lowered) {
    log.warn({ fdLimit: fds, grpcMaxConnections: conns.grpc, httpMaxConnections: conns.http }, 'connection limits lowered to fit the open-file limit (raise it with ulimit -n)');
  }
  const { server, health } = buildServer(calls, log, {
    maxReceiveBytes: cfg.grpcMaxReceiveBytes,
    maxSendBytes: cfg.grpcMaxSendBytes,
    keys,
    limits: cfg.grpc,
  });
  let serving = false;
  const gw = createGateway({
    dispatcher: inProcess(calls, log, () => serving),
    bodyLimitBytes: httpSettings.bodyLimitBytes,
    deadlineMs: httpSettings.deadlineMs,
    heartbeatMs: cfg.http.feedHeartbeatMs,
    log,
  });
  if (stopRequested()) return;
  collectProcessMetrics();
  const metrics = await serveMetrics(Registry.merge([registry, gatewayRegistry]), cfg.host, cfg.metricsPort);
  stoppers.push(() => new Promise<void>((done) => metrics.server.close(() => done())));
  log.info({ port: metrics.port }, 'metrics at /metrics');
  if (stopRequested()) return;
  const port = await bind(server, `${cfg.host}:${cfg.grpcPort}`, conns.grpc);
  stoppers.push(() => drain(server, health, cfg.shutdownTimeoutMs, log));
  if (stopRequested()) return;
  const httpServer = await serveHttp(gw, cfg.host, cfg.httpPort, cfg.shutdownTimeoutMs, { ...cfg.http, maxConnections: conns.http }, log);
  stoppers.push(async () => {
    serving = false;
    await httpServer.stop();
  });
  if (stopRequested()) return;
  serving = true;
  for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'SERVING');
  log.info({ host: cfg.host, port: httpServer.port, routes: gw.routes.routes.size }, 'HTTP listening');
  // The last line of a start: whoever waits for it may call both ports.
  log.info({ host: cfg.host, port, httpPort: httpServer.port, store: embedded ? 'embedded' : 'external' }, 'gRPC server listening');
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
