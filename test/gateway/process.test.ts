/**
 * The gateway as its own process (dist/gateway/main.js, built by `npm run
 * build`): it listens on the port HTTP_PORT=0 picked and logs it, answers
 * health, drains on SIGTERM (the in-flight request finishes, then exit 0),
 * and refuses bad settings at start.
 */
import { bearer, spawnGateway, type SpawnedGateway } from '../helpers/gateway';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, TEST_TOKEN, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
const spawned: SpawnedGateway[] = [];

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
});
afterAll(async () => {
  await Promise.all(spawned.map((g) => g.kill()));
  await redis?.client().client('UNPAUSE');
  await svc?.stop();
  await redis?.stop();
});

async function spawn(env: Record<string, string> = {}): Promise<SpawnedGateway> {
  const g = await spawnGateway({ GRPC_TARGET: svc.address, ...env });
  spawned.push(g);
  return g;
}

const post = (url: string, path: string, body: unknown) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(TEST_TOKEN) }, body: JSON.stringify(body) });

it('logs "gateway listening" with the real port as a JSON line, and serves health and calls there', async () => {
  const g = await spawn();
  const line = JSON.parse(g.lines.find((l) => l.includes('gateway listening'))!);
  expect(line).toMatchObject({ msg: 'gateway listening', port: g.port });
  expect(g.port).toBeGreaterThan(0);
  const health = await fetch(`${g.url}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'SERVING' });
  const r = await post(g.url, '/threads/Threads/CreateThread', { group_id: 'p', topic: 'from the process' });
  expect(r.status).toBe(200);
  expect(((await r.json()) as { thread: { topic: string } }).thread.topic).toBe('from the process');
  // Tokens never reach the log.
  expect(g.lines.join('\n')).not.toContain(TEST_TOKEN);

  // The gateway's own Prometheus metrics, on their own port.
  const metricsPort = (JSON.parse(g.lines.find((l) => l.includes('metrics at /metrics'))!) as { port: number }).port;
  await fetch(`${g.url}/no/such/path`, { method: 'POST' });
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(text).toContain('parley_gateway_http_requests_total{route="/threads/Threads/CreateThread",status="200"} 1');
  expect(text).toContain('parley_gateway_http_requests_total{route="unmatched",status="404"} 1');
  expect(text).toMatch(/parley_gateway_http_request_seconds_count\{route="\/healthz",status="200"\} 1/);
  expect(text).toContain('parley_gateway_http_requests_in_flight');
  expect(text).toContain('parley_gateway_nodejs_heap_size_used_bytes');
});

it('SIGTERM drains: the in-flight request finishes with 200, new ones are refused, then exit 0', async () => {
  const g = await spawn();
  expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
  // Writes hang in Redis for 800 ms, so the CreateThread below is in flight when SIGTERM comes.
  await redis.client().client('PAUSE', 800, 'WRITE');
  const inFlight = post(g.url, '/threads/Threads/CreateThread', { group_id: 'p', topic: 'in flight' });
  await new Promise((r) => setTimeout(r, 200));
  g.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  const late = await fetch(`${g.url}/healthz`).then(
    (r) => r.status,
    () => 'refused',
  );
  expect(['refused', 503]).toContain(late);

  const r = await inFlight;
  expect(r.status).toBe(200);
  expect(((await r.json()) as { thread: { topic: string } }).thread.topic).toBe('in flight');
  expect(await g.exited).toBe(0);
  expect(g.lines.some((l) => l.includes('"msg":"draining"'))).toBe(true);
  expect(g.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
});

it('SIGTERM under load: every answered write is 200 and stored, the rest are refused cleanly (503 or connection refused), exit 0', async () => {
  const g = await spawn();
  const { thread } = await svc.threads.createThread({ groupId: 'p', topic: 'gateway load' });
  const acked: string[] = [];
  const outcomes = new Map<string, number>();
  const worker = async (w: number) => {
    const until = Date.now() + 5000;
    for (let i = 0; Date.now() < until; i++) {
      const id = `w${w}-${i}`;
      const r = await post(g.url, '/threads/Threads/CreateMessage', { thread_id: thread!.id, id, author_id: 'a', text: id }).then(
        (res) => res.status,
        () => 'refused',
      );
      outcomes.set(String(r), (outcomes.get(String(r)) ?? 0) + 1);
      if (r !== 200) return;
      acked.push(id);
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  await new Promise((r) => setTimeout(r, 400));
  g.child.kill('SIGTERM');
  await load;
  expect(await g.exited).toBe(0);
  expect([...outcomes.keys()].every((k) => ['200', '503', 'refused'].includes(k))).toBe(true);
  expect(outcomes.get('200')).toBeGreaterThan(0);
  const stored = new Set((await svc.threads.listMessages({ threadId: thread!.id, limit: '1000' })).messages.map((m) => m.id));
  for (const id of acked) expect(stored.has(id)).toBe(true);
});

it('SIGTERM with nothing in flight exits 0 at once', async () => {
  const g = await spawn();
  const started = Date.now();
  g.child.kill('SIGTERM');
  expect(await g.exited).toBe(0);
  expect(Date.now() - started).toBeLessThan(2000);
});

it.each([
  [{ GATEWAY_BODY_LIMIT_BYTES: String(5 * 1024 * 1024) }, 'GATEWAY_BODY_LIMIT_BYTES'],
  [{ GATEWAY_DEADLINE_MS: 'soon' }, 'GATEWAY_DEADLINE_MS'],
])('refuses bad settings %j at start, naming the variable', async (env, name) => {
  await expect(spawn(env)).rejects.toThrow(new RegExp(`exited \\(1\\) before listening; stderr: Invalid settings: .*${name}`));
});
