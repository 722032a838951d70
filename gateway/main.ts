/**
 * The gateway as its own process, for deployments that put HTTP at the edge:
 * settings → a gRPC channel to GRPC_TARGET → the Express app → listen on
 * HOST:HTTP_PORT (0 picks a free port; the "gateway listening" log line
 * carries the real one). `make start` does not need it: the service process
 * serves HTTP itself. SIGTERM and SIGINT drain (serve.ts), then the process
 * exits 0.
 */
import type { Server } from 'node:http';
import { collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../src/log';
import { fitConnections, softFdLimit } from '../src/fd-budget';
import { serveMetrics } from '../src/metrics/serve';
import { gatewayRegistry } from './metrics';
import { createGateway } from './app';
import { remote } from './dispatch';
import { serveHttp, type HttpServer } from './serve';
import { loadGatewaySettings } from './settings';

async function main(): Promise<void> {
  const s = loadGatewaySettings();
  const log = createLogger(s.logLevel, 'parley-gateway');
  collectDefaultMetrics({ register: gatewayRegistry, prefix: 'parley_gateway_' });
  const dispatcher = remote({ grpcTarget: s.grpcTarget, maxResponseBytes: s.maxResponseBytes }, log);
  const gw = createGateway({ dispatcher, bodyLimitBytes: s.bodyLimitBytes, deadlineMs: s.deadlineMs, heartbeatMs: s.config.http.feedHeartbeatMs, log });
  // Start connecting now, so the first request does not pay for it.
  dispatcher.client.getChannel().getConnectivityState(true);

  let http: HttpServer | undefined;
  let metrics: { server: Server; port: number } | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: gw.inFlight() }, 'draining');
    await http?.stop();
    gw.close();
    metrics?.server.close();
    log.info('stopped');
    // Nothing is left to keep the process alive: let it end by itself, so the
    // asynchronous log writes finish in order; exit anyway if something lingers.
    process.exitCode = 0;
    setTimeout(() => process.exit(0), 1000).unref();
  };
  // Before listening: whoever sees the "listening" line may signal at once.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  metrics = await serveMetrics(gatewayRegistry, s.host, s.metricsPort);
  log.info({ port: metrics.port }, 'metrics at /metrics');
  const fds = softFdLimit();
  const { http: maxConnections } = fitConnections(0, s.config.http.maxConnections, fds);
  const started = await serveHttp(gw, s.host, s.httpPort, s.shutdownTimeoutMs, { ...s.config.http, maxConnections }, log);
  if (stopping) {
    await started.stop();
    return;
  }
  http = started;
  log.info({ host: s.host, port: started.port, grpcTarget: s.grpcTarget, routes: gw.routes.routes.size }, 'gateway listening');
}

main().catch((err: unknown) => {
  // Startup failed (bad settings, port taken, no descriptors): say why and exit non-zero.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
