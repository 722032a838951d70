/**
 * Importing the service's code starts no process-wide collector: prom-client's
 * default metrics register a global GC observer that is never removed, and one
 * registered on import kept each importer's modules reachable for good (every
 * jest test file's module registry: workers grew until they exited too slowly
 * for jest and were force-exited). Only the serving process collects them
 * (main.ts; test/process/service-process.test.ts reads them from /metrics).
 */
import { registry, collectProcessMetrics } from '../../src/metrics/service';
import '../../src/service';

it('the service registry has no process metrics until collectProcessMetrics() is called, then once', async () => {
  expect(registry.getSingleMetric('parley_nodejs_gc_duration_seconds')).toBeUndefined();
  expect(registry.getSingleMetric('parley_nodejs_heap_size_used_bytes')).toBeUndefined();
  collectProcessMetrics();
  collectProcessMetrics(); // a second call registers nothing twice (prom-client would throw)
  expect(registry.getSingleMetric('parley_nodejs_gc_duration_seconds')).toBeDefined();
  expect(await registry.metrics()).toContain('parley_nodejs_heap_size_used_bytes');
});
