/**
 * Prometheus metrics (prom-client): calls by method and status code with
 * their latency, calls in flight, and the latency of each store operation
 * (one or a few Redis round trips), plus Node's process metrics (heap, event
 * loop lag). Served on METRICS_PORT at /metrics.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'parley_' });

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const grpcCalls = new Counter({
  name: 'parley_grpc_calls_total',
  help: 'gRPC calls handled, by method and status code',
  labelNames: ['method', 'code'] as const,
  registers: [registry],
});

export const grpcLatency = new Histogram({
  name: 'parley_grpc_call_seconds',
  help: 'gRPC call latency, by method and status code',
  labelNames: ['method', 'code'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const grpcInFlight = new Gauge({
  name: 'parley_grpc_calls_in_flight',
  help: 'gRPC calls being handled now',
  registers: [registry],
});

export const storeLatency = new Histogram({
  name: 'parley_redis_op_seconds',
  help: 'Latency of store operations against Redis, by operation and outcome',
  labelNames: ['op', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

/** Serves /metrics; resolves with the port (METRICS_PORT=0 picks a free one). */
export function serveMetrics(host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port });
    });
  });
}
