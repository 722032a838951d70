import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { status, type ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { clients, failure, stable } from '../helpers/grpc';
import { startProcess, startService as spawnService, type ServiceProcess } from '../helpers/process';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'parley-data-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Every service a test starts is stopped after it, also when an assertion failed midway (its embedded Redis with it). */
const running: ServiceProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) await p.stop();
});
async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const p = await spawnService(env);
  running.push(p);
  return p;
}

/** The default key the service created in DATA_DIR on its first start. */
const tokenOf = (dataDir: string) => readFileSync(join(dataDir, 'api-key'), 'utf8').trim().split(':')[1];

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

it('with REDIS_URL unset it runs its own redis-server on a unix socket in DATA_DIR (no TCP port), append-only, and stops it on SIGTERM', async () => {
  const dataDir = tempDir();
  const svc = await startService({ DATA_DIR: dataDir, GRPC_PORT: '0' });
  const started = svc.logs.find((l) => l.msg === 'embedded redis-server started')!;
  const redisPid = started.redisPid as number;
  expect(started.socket).toBe(join(dataDir, 'redis.sock'));
  // Only this user can reach the socket: its folder is 0700.
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  const raw = new Redis({ path: started.socket as string });
  expect(await raw.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  expect(await raw.config('GET', 'dir')).toEqual(['dir', dataDir]);
  expect(await raw.config('GET', 'port')).toEqual(['port', '0']);
  raw.disconnect();

  const c = clients(`127.0.0.1:${svc.port}`, tokenOf(dataDir));
  const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'persisted' });
  const { message } = await c.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'still here' });
  await failure(c.threads.readThread({ id: 'absent' }));
  c.close();

  // The same process serves JSON over HTTP on its own port, over the same data.
  const viaHttp = await fetch(`http://127.0.0.1:${svc.httpPort}/threads/Threads/ReadThread`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenOf(dataDir)}` },
    body: JSON.stringify({ id: thread!.id }),
  });
  expect(viaHttp.status).toBe(200);
  expect(((await viaHttp.json()) as { thread: { topic: string } }).thread.topic).toBe('persisted');

  // Prometheus metrics: calls by method, transport and code, latency, store operations, HTTP routes, process.
  const metricsPort = svc.logs.find((l) => l.msg === 'metrics at /metrics')!.port as number;
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(text).toContain('parley_calls_total{method="/threads.Threads/CreateThread",transport="grpc",code="OK"} 1');
  expect(text).toContain('parley_calls_total{method="/threads.Threads/ReadThread",transport="grpc",code="NOT_FOUND"} 1');
  expect(text).toContain('parley_calls_total{method="/threads.Threads/ReadThread",transport="http",code="OK"} 1');
  expect(text).toMatch(/parley_call_seconds_bucket\{le="\+Inf",method="\/threads.Threads\/CreateMessage",transport="grpc",code="OK"\} 1/);
  expect(text).toContain('parley_calls_in_flight 0');
  expect(text).toContain('parley_gateway_http_requests_total{route="/threads/Threads/ReadThread",status="200"} 1');
  expect(text).toMatch(/parley_redis_op_seconds_count\{op="appendMessage",outcome="ok"\} 1/);
  expect(text).toContain('parley_nodejs_heap_size_used_bytes');
  expect(readdirSync(dataDir)).toEqual(expect.arrayContaining(['appendonlydir']));

  expect(await svc.stop()).toBe(0);
  expect(alive(redisPid)).toBe(false);

  // A restart on the same DATA_DIR finds the data again.
  const again = await startService({ DATA_DIR: dataDir, GRPC_PORT: '0' });
  const c2 = clients(`127.0.0.1:${again.port}`, tokenOf(dataDir));
  expect(stable((await c2.threads.readThread({ id: thread!.id })).thread)).toEqual(stable(thread));
  expect((await c2.threads.listMessages({ threadId: thread!.id })).messages).toEqual([message]);
  c2.close();
  expect(await again.stop()).toBe(0);
});

it('SIGTERM under load: calls in flight complete, later ones are refused cleanly, exit 0, nothing acknowledged is lost', async () => {
  const dataDir = tempDir();
  const svc = await startService({ DATA_DIR: dataDir, GRPC_PORT: '0' });
  const c = clients(`127.0.0.1:${svc.port}`, tokenOf(dataDir));
  const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'drain' });

  const outcomes: { ok?: string; code?: number }[] = [];
  let stopAt = 0;
  const writers = Array.from({ length: 16 }, async (_, w) => {
    for (let i = 0; i < 400; i++) {
      try {
        const r = await c.threads.createMessage({ threadId: thread!.id, id: `w${w}-${i}`, authorId: 'a', text: `${w}/${i}` });
        outcomes.push({ ok: r.message!.id });
      } catch (e) {
        outcomes.push({ code: (e as ServiceError).code });
        return; // the server is going away
      }
      if (outcomes.length === 300 && !stopAt) {
        stopAt = outcomes.length;
        svc.child.kill('SIGTERM');
      }
    }
  });
  await Promise.all(writers);
  c.close();
  expect(await svc.exited).toBe(0);

  const acked = outcomes.filter((o) => o.ok).map((o) => o.ok!);
  const refused = outcomes.filter((o) => o.code !== undefined);
  expect(acked.length).toBeGreaterThanOrEqual(300);
  // Refusals are clean UNAVAILABLE (the server has stopped accepting), never INTERNAL or a hang.
  for (const r of refused) expect(r.code).toBe(status.UNAVAILABLE);
  expect(svc.output()).toContain('"msg":"stopped"');

  const again = await startService({ DATA_DIR: dataDir, GRPC_PORT: '0' });
  const c2 = clients(`127.0.0.1:${again.port}`, tokenOf(dataDir));
  const stored = new Set<string>();
  for (let offset = 0; ; offset += 1000) {
    const page = (await c2.threads.listMessages({ threadId: thread!.id, limit: '1000', offset: String(offset) })).messages;
    if (!page.length) break;
    page.forEach((m) => stored.add(m.id));
  }
  c2.close();
  for (const id of acked) expect(stored.has(id)).toBe(true);
  expect(await again.stop()).toBe(0);
});

it('refuses to start with a clear message when a setting is invalid', async () => {
  await expect(startService({ DATA_DIR: tempDir(), GRPC_PORT: 'abc' })).rejects.toThrow(/GRPC_PORT/);
  await expect(startService({ DATA_DIR: tempDir(), GRPC_PORT: '0', MAX_REPLY_BYTES: String(64 << 20) })).rejects.toThrow(/MAX_REPLY_BYTES.*GRPC_MAX_SEND_BYTES/);
  // API keys are checked before the embedded Redis starts: nothing is left behind.
  const dataDir = tempDir();
  await expect(startService({ DATA_DIR: dataDir, GRPC_PORT: '0', API_KEYS: 'default:short' })).rejects.toThrow(/API_KEYS|token/);
  expect(existsSync(join(dataDir, 'redis.pid'))).toBe(false);
});

it('a start that fails after the embedded Redis is up stops that redis-server and exits 1', async () => {
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const grpcPort = (taken.address() as AddressInfo).port;
  try {
    const svc = await startProcess('dist/src/main.js', { DATA_DIR: tempDir(), GRPC_PORT: String(grpcPort) }, 'embedded redis-server started');
    const redisPid = svc.logs.find((l) => l.msg === 'embedded redis-server started')!.redisPid as number;
    expect(await svc.exited).toBe(1);
    expect(svc.output()).toMatch(/No address added|EADDRINUSE|address/i);
    expect(alive(redisPid)).toBe(false);
  } finally {
    taken.close();
  }
});

it('SIGTERM during start-up stops the embedded redis-server too, exit 0', async () => {
  const svc = await startProcess('dist/src/main.js', { DATA_DIR: tempDir(), GRPC_PORT: '0' }, 'embedded redis-server started');
  const redisPid = svc.logs.find((l) => l.msg === 'embedded redis-server started')!.redisPid as number;
  expect(await svc.stop()).toBe(0);
  expect(alive(redisPid)).toBe(false);
});

it('creates the default key once (mode 0600), prints it once on stderr, reuses it, and never logs it', async () => {
  const dataDir = tempDir();
  const first = await startService({ DATA_DIR: dataDir, GRPC_PORT: '0', LOG_LEVEL: 'trace' });
  const token = tokenOf(dataDir);
  expect(token.length).toBeGreaterThanOrEqual(32);
  expect(statSync(join(dataDir, 'api-key')).mode & 0o777).toBe(0o600);
  const c = clients(`127.0.0.1:${first.port}`, token);
  await c.threads.createThread({ groupId: 'g', topic: 't' });
  await failure(clients(`127.0.0.1:${first.port}`, 'wrong-token-123').threads.listThreads({ groupId: 'g' }));
  c.close();
  await first.stop();
  const firstOut = first.output();
  expect(firstOut.split(token).length - 1).toBe(2); // the banner's two usage lines, on stderr
  for (const entry of first.logs) expect(JSON.stringify(entry)).not.toContain(token);

  const second = await startService({ DATA_DIR: dataDir, GRPC_PORT: '0', LOG_LEVEL: 'trace' });
  expect(tokenOf(dataDir)).toBe(token);
  const c2 = clients(`127.0.0.1:${second.port}`, token);
  expect((await c2.threads.listThreads({ groupId: 'g' })).threads).toHaveLength(1);
  c2.close();
  await second.stop();
  expect(second.output()).not.toContain(token);
});
