/**
 * The gateway's own Prometheus metrics: requests by route and HTTP status
 * with their latency and requests in flight. The separate gateway process
 * serves them with Node's process metrics on GATEWAY_METRICS_PORT; the
 * service process serves them beside its own on METRICS_PORT. Unknown paths share the label
 * "unmatched", so a scanner cannot blow up the label set.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS } from '../src/metrics/serve';

export const gatewayRegistry = new Registry();

export const httpRequests = new Counter({
  name: 'parley_gateway_http_requests_total',
  help: 'HTTP requests answered, by route and status',
  labelNames: ['route', 'status'] as const,
  registers: [gatewayRegistry],
});

export const httpLatency = new Histogram({
  name: 'parley_gateway_http_request_seconds',
  help: 'HTTP request latency, by route and status',
  labelNames: ['route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [gatewayRegistry],
});

export const httpInFlight = new Gauge({
  name: 'parley_gateway_http_requests_in_flight',
  help: 'HTTP requests being answered now',
  registers: [gatewayRegistry],
});

/** Children per route and status, kept: prom-client would otherwise hash a label object on every request. */
const children = new Map<string, { requests: { inc(): void }; latency: { observe(v: number): void } }>();
export function httpMetrics(route: string, statusCode: number) {
  const key = `${route}\u0000${statusCode}`;
  let c = children.get(key);
  if (!c) {
    const labels = { route, status: String(statusCode) };
    children.set(key, (c = { requests: httpRequests.labels(labels), latency: httpLatency.labels(labels) }));
  }
  return c;
}
