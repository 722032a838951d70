/**
 * gRPC connection, stream and request limits (src/transports/grpc/guard.ts),
 * seen from a raw HTTP/2 client on loopback, as an attacker would send:
 * bodies that never finish, wrong tokens, idle and surplus connections.
 */
import { connect as h2connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, TEST_TOKEN, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
const sessions: ClientHttp2Session[] = [];

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url, undefined, undefined, undefined, {
    grpc: { requestTimeoutMs: 500, maxConnections: 6, maxConnectionIdleMs: 1500, maxConcurrentStreams: 50 },
  });
});
afterAll(async () => {
  sessions.forEach((s) => s.destroy());
  await svc?.stop();
  await redis?.stop();
});

function session(): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://${svc.address}`);
    sessions.push(s);
    s.once('remoteSettings', () => resolve(s));
    s.once('error', reject);
  });
}

/** A gRPC call's headers, and a body of which only `sent` bytes of a `declared`-byte message go out (no end). */
function partialCall(s: ClientHttp2Session, token: string, declared: number, sent: number): ClientHttp2Stream {
  const stream = s.request({
    ':method': 'POST',
    ':path': '/threads.Threads/CreateThread',
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
  });
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(declared, 1);
  stream.write(Buffer.concat([prefix, Buffer.alloc(sent, 0x0a)]));
  return stream;
}

/** The grpc-status the server ends a stream with (from trailers, or headers for a trailers-only answer), and when. */
function statusOf(stream: ClientHttp2Stream): Promise<{ status: number; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const done = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) resolve({ status: Number(h['grpc-status']), ms: Date.now() - t0 });
    };
    stream.on('response', done);
    stream.on('trailers', done);
    stream.on('error', reject);
    stream.resume();
  });
}

it('a wrong token is answered from the headers: the body is never waited for (nor buffered)', async () => {
  const s = await session();
  const calls = Array.from({ length: 20 }, () => statusOf(partialCall(s, 'wrong-token-xyz', 4 * 1024 * 1024 - 1, 64 * 1024)));
  for (const r of await Promise.all(calls)) {
    expect(r.status).toBe(16); // UNAUTHENTICATED
    expect(r.ms).toBeLessThan(1000);
  }
});

it('a request that does not arrive whole within GRPC_REQUEST_TIMEOUT_MS is ended (DEADLINE_EXCEEDED)', async () => {
  const s = await session();
  const r = await statusOf(partialCall(s, TEST_TOKEN, 1000, 10));
  expect(r.status).toBe(4);
  expect(r.ms).toBeGreaterThanOrEqual(400);
  expect(r.ms).toBeLessThan(2000);
  // The service still answers whole requests at once.
  expect((await svc.threads.createThread({ groupId: 'g', topic: 't' })).thread?.topic).toBe('t');
});

it('advertises its concurrent-stream limit instead of 2^32-1', async () => {
  const s = await session();
  expect(s.remoteSettings.maxConcurrentStreams).toBe(50);
});

it('closes connections past GRPC_MAX_CONNECTIONS on arrival, and serves again once they go', async () => {
  const held = await Promise.all(
    Array.from({ length: 8 }, () => new Promise<{ closedSoon: boolean; destroy(): void }>((resolve) => {
      const sock = tcpConnect(Number(svc.address.split(':')[1]), '127.0.0.1');
      let closed = false;
      sock.on('close', () => (closed = true));
      sock.on('error', () => undefined);
      setTimeout(() => resolve({ closedSoon: closed, destroy: () => sock.destroy() }), 500);
    })),
  );
  // The test's own gRPC client holds one connection already; the sessions above may hold more.
  const open = held.filter((h) => !h.closedSoon).length;
  expect(open).toBeLessThanOrEqual(6);
  expect(held.some((h) => h.closedSoon)).toBe(true);
  held.forEach((h) => h.destroy());
  sessions.splice(0).forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 200));
  expect((await svc.threads.createThread({ groupId: 'g', topic: 'again' })).thread?.topic).toBe('again');
});

it('closes a connection that stays idle past GRPC_MAX_CONNECTION_IDLE_MS (GOAWAY)', async () => {
  const s = await session();
  const t0 = Date.now();
  await new Promise<void>((resolve) => s.once('goaway', () => resolve()));
  expect(Date.now() - t0).toBeLessThan(5000);
});

it('a reply whose caller went away before it was written is not counted against NAMESPACE_UNSENT_REPLY_BYTES', async () => {
  // A budget of 1 MiB: one 3.3 MB reply counted and never released would refuse every later call.
  const tight = await startService(redis.url, undefined, undefined, undefined, { grpc: { namespaceUnsentReplyBytes: 1 << 20 } });
  try {
    const { thread } = await tight.threads.createThread({ groupId: 'g', topic: 'big' });
    const text = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => tight.threads.createMessage({ threadId: thread!.id, authorId: 'a', text })));
    }
    // 3.3 MB pages with a 5 ms deadline: the service cancels them while it reads, and its handler
    // writes the reply afterwards (grpc-js drops it).
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        tight.threads.listMessages({ threadId: thread!.id, limit: '200' }, undefined, { deadline: Date.now() + 5 }).then(
          () => 'ok',
          (e: { code?: number }) => String(e.code),
        ),
      ),
    );
    expect(outcomes).toContain('4'); // DEADLINE_EXCEEDED
    await new Promise((r) => setTimeout(r, 1000));
    // Nothing is left unsent: the namespace reads again (before the fix: RATE_LIMITED for GRPC_REPLY_SEND_TIMEOUT_MS).
    expect((await tight.threads.listMessages({ threadId: thread!.id, limit: '200' })).messages).toHaveLength(200);
  } finally {
    await tight.stop();
  }
});
