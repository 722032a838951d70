/**
 * The service's Prometheus metrics (prom-client): calls by method and status
 * code with their latency, calls in flight, and the latency of each store
 * operation (one or a few Redis round trips), plus Node's process metrics
 * (heap, event loop lag). Served on METRICS_PORT at /metrics (./serve.ts).
 */
import { LATENCY_BUCKETS } from './serve';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

let collecting = false;
/**
 * Adds Node's process metrics to `registry`, once: called by the process that
 * serves them (main.ts), not on import. prom-client's GC metric registers a
 * global PerformanceObserver that is never removed, so collecting on import
 * kept every importer's module graph reachable for good (under jest, each test
 * file's whole module registry: workers grew by about 10 MB a file, took
 * longer than jest's 500 ms to exit, and were force-exited with a warning).
 */
export function collectProcessMetrics(): void {
  if (collecting) return;
  collecting = true;
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
}


export const calls = new Counter({
  name: 'parley_calls_total',
  help: 'Operations called, by method (gRPC path), transport (grpc, http) and status code',
  labelNames: ['method', 'transport', 'code'] as const,
  registers: [registry],
});

export const callLatency = new Histogram({
  name: 'parley_call_seconds',
  help: 'Operation latency, by method, transport and status code',
  labelNames: ['method', 'transport', 'code'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const callsInFlight = new Gauge({
  name: 'parley_calls_in_flight',
  help: 'Operations running now, over any transport',
  registers: [registry],
});

export const storeLatency = new Histogram({
  name: 'parley_redis_op_seconds',
  help: 'Latency of store operations against Redis, by operation and outcome',
  labelNames: ['op', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

/**
 * Children of the hot-path metrics, kept per label set: prom-client would
 * otherwise hash a label object on every observation.
 */
const callChildren = new Map<string, { calls: { inc(): void }; latency: { observe(v: number): void } }>();
export function callMetrics(method: string, transport: string, code: string) {
  const key = `${method}\u0000${transport}\u0000${code}`;
  let c = callChildren.get(key);
  if (!c) {
    const labels = { method, transport, code };
    callChildren.set(key, (c = { calls: calls.labels(labels), latency: callLatency.labels(labels) }));
  }
  return c;
}

const opChildren = new Map<string, { observe(v: number): void }>();
export function storeOpLatency(op: string, outcome: 'ok' | 'timeout' | 'unavailable' | 'error') {
  const key = `${op}\u0000${outcome}`;
  let c = opChildren.get(key);
  if (!c) opChildren.set(key, (c = storeLatency.labels({ op, outcome })));
  return c;
}

/** The live feed (src/feed): subscriptions open, events delivered, their lag, and subscribers ended for not reading. */
export const feedMetrics = {
  open: new Gauge({
    name: 'parley_feed_subscriptions',
    help: 'Live-feed subscriptions open on this instance',
    registers: [registry],
  }),
  delivered: new Counter({
    name: 'parley_feed_events_delivered_total',
    help: 'Live-feed events handed to subscribers (replayed and live)',
    registers: [registry],
  }),
  lag: new Histogram({
    name: 'parley_feed_delivery_lag_seconds',
    help: 'From a change being accepted to its live event being handed to a subscriber',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  }),
  slowConsumers: new Counter({
    name: 'parley_feed_slow_consumer_total',
    help: 'Subscriptions ended with SLOW_CONSUMER',
    registers: [registry],
  }),
};
