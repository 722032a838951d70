/**
 * The HTTP transport's limits (gateway/serve.ts, the caller checked before
 * its body is read, JSON depth checked before parsing), against the built
 * service process on loopback, sent as an attacker would: a request that
 * never finishes its headers, a connection that says nothing, more
 * connections than allowed, wrong tokens with large bodies, a megabyte of `[`.
 */
import { connect, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, type ServiceProcess } from '../helpers/process';
import { startRedis, type TestRedis } from '../helpers/redis';
import { TEST_TOKEN } from '../helpers/service';

let redis: TestRedis;
let svc: ServiceProcess;
const sockets: Socket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  svc = await startProcess(
    'dist/src/main.js',
    {
      REDIS_URL: redis.url,
      API_KEYS: `default:${TEST_TOKEN}`,
      HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-http-')),
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
      HTTP_KEEPALIVE_TIMEOUT_MS: '1000',
      HTTP_MAX_CONNECTIONS: '20',
    },
    'gRPC server listening',
  );
});
afterAll(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await svc?.stop();
  await redis?.stop();
});

/** A raw connection; resolves with what it received and how long until the server closed it (or `waitMs` passed). */
function raw(send: string | Buffer | undefined, waitMs: number): Promise<{ closedAfterMs?: number; received: string }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let received = '';
    const s = connect(svc.httpPort!, '127.0.0.1', () => {
      if (send !== undefined) s.write(send);
    });
    sockets.push(s);
    s.on('data', (d) => (received += d.toString()));
    s.on('error', () => undefined);
    const timer = setTimeout(() => resolve({ received }), waitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - t0, received });
    });
  });
}

const http = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`http://127.0.0.1:${svc.httpPort}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, ...headers }, body });

it('a request whose headers never finish is dropped within HTTP_HEADERS_TIMEOUT_MS (and the check interval)', async () => {
  const r = await raw('POST /threads/Threads/ListThreads HTTP/1.1\r\nHost: x\r\nX-Slow: ', 6000);
  expect(r.closedAfterMs).toBeDefined();
  expect(r.closedAfterMs!).toBeLessThan(3500);
});

it('a connection that sends nothing is dropped within seconds', async () => {
  const r = await raw(undefined, 6000);
  expect(r.closedAfterMs).toBeDefined();
  expect(r.closedAfterMs!).toBeLessThan(3500);
});

it('a body that never finishes is dropped within HTTP_REQUEST_TIMEOUT_MS', async () => {
  const head = `POST /threads/Threads/ListThreads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Length: 1000\r\n\r\n{"group_id":`;
  const r = await raw(head, 8000);
  expect(r.closedAfterMs).toBeDefined();
  expect(r.closedAfterMs!).toBeLessThan(5000);
});

it('a wrong token is answered from the headers, before a large body arrives', async () => {
  const head = `POST /threads/Threads/CreateThread HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-token-1234\r\nContent-Length: 1000000\r\n\r\n{"group_id":"`;
  const r = await raw(head, 3000);
  expect(r.received).toMatch(/^HTTP\/1\.1 401 /);
  expect(r.received).toContain('"id":"UNAUTHORIZED"');
});

it('a megabyte of nested JSON is refused fast, before parsing, also under an unknown field', async () => {
  const deep = '{"group_id":"g","x":' + '['.repeat(1_000_000 - 30);
  const t0 = Date.now();
  const answers = await Promise.all(Array.from({ length: 4 }, () => http('/threads/Threads/ListThreads', deep)));
  for (const a of answers) {
    expect(a.status).toBe(400);
    expect(((await a.json()) as { id: string }).id).toBe('INVALID_JSON');
  }
  expect(Date.now() - t0).toBeLessThan(2000);
  // Wrong tokens with the same bodies are refused before the body is read at all.
  const refused = await Promise.all(Array.from({ length: 4 }, () => http('/threads/Threads/ListThreads', deep, { authorization: 'Bearer nope-nope-nope' })));
  for (const a of refused) expect(a.status).toBe(401);
});

it('connections past HTTP_MAX_CONNECTIONS are closed on arrival; the service serves again once they go', async () => {
  const held = await Promise.all(Array.from({ length: 30 }, () => raw(undefined, 300)));
  expect(held.filter((h) => h.closedAfterMs !== undefined && h.closedAfterMs < 300).length).toBeGreaterThanOrEqual(10);
  sockets.splice(0).forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 200));
  const ok = await http('/threads/Threads/ListThreads', '{"group_id":"g"}');
  expect(ok.status).toBe(200);
});
