/**
 * The gateway process: settings → gRPC channel to GRPC_TARGET → Express app →
 * listen on HOST:HTTP_PORT (0 picks a free port; the "gateway listening" log
 * line carries the real one). SIGTERM and SIGINT drain: the listener closes,
 * new requests on open connections get 503, in-flight requests finish (up to
 * SHUTDOWN_TIMEOUT_MS), then the process exits 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../src/log';
import { serveMetrics } from '../src/metrics/serve';
import { gatewayRegistry } from './metrics';
import { createGateway } from './app';
import { loadGatewaySettings } from './settings';

async function main(): Promise<void> {
  const s = loadGatewaySettings();
  const log = createLogger(s.logLevel, 'parley-gateway');
  const gw = createGateway({
    grpcTarget: s.grpcTarget,
    bodyLimitBytes: s.bodyLimitBytes,
    deadlineMs: s.deadlineMs,
    maxResponseBytes: s.maxResponseBytes,
    log,
  });
  // Start connecting now, so the first request does not pay for it.
  gw.client.getChannel().getConnectivityState(true);

  const server = createServer(gw.app);

  let metrics: { server: Server; port: number } | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: gw.inFlight() }, 'draining');
    const closed = new Promise<void>((done) => server.close(() => done()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((done) => {
      timer = setTimeout(() => done(true), s.shutdownTimeoutMs);
    });
    if (await Promise.race([gw.drain().then(() => false), timedOut])) log.warn({ inFlight: gw.inFlight() }, 'drain timed out; closing remaining requests');
    clearTimeout(timer);
    // Idle keep-alive connections (and, after a timeout, the stragglers).
    server.closeAllConnections();
    await closed;
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
  const port = await listen(server, s.httpPort, s.host);
  if (stopping) {
    server.close();
    return;
  }
  log.info({ host: s.host, port, grpcTarget: s.grpcTarget, routes: gw.routes.routes.size }, 'gateway listening');
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

main().catch((err: unknown) => {
  // Startup failed (bad settings, port taken, no descriptors): say why and exit non-zero.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
