/** A tiny HTTP server for one prom-client registry: GET /metrics, 404 otherwise. */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** Latency buckets in seconds, from 0.5 ms (a cached read) to 5 s (well past any timeout). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The metrics port's own limits: a scraper needs one or two connections, and
 * without a limit idle connections to this port could take every descriptor
 * the gRPC and HTTP limits keep free (fd-budget.ts). Fixed, taken from that reserve.
 */
export const METRICS_LIMITS = { maxConnections: 16, headersTimeoutMs: 5000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5000 } as const;

/** Serves /metrics; resolves with the port (METRICS_PORT=0 picks a free one). */
export function serveMetrics(registry: Registry, host: string, port: number): Promise<{ server: Server; port: number }> {
  const options = {
    headersTimeout: METRICS_LIMITS.headersTimeoutMs,
    requestTimeout: METRICS_LIMITS.requestTimeoutMs,
    keepAliveTimeout: METRICS_LIMITS.keepAliveTimeoutMs,
    connectionsCheckingInterval: 1000,
  };
  const server = createServer(options, (req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('metrics are at /metrics\n');
  });
  server.maxConnections = METRICS_LIMITS.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port });
    });
  });
}
