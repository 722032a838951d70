/**
 * Readers that never read (hardening issue, item 2: "100 ListMessages of
 * 200 × 16 KiB read by a client with a zero window: 187 → 492 MB held").
 * A raw HTTP/2 client advertises a stream window of 0 bytes, so not one byte
 * of a reply can be sent to it, and asks for 3.3 MB pages over and over; every
 * reply the service builds waits in its memory for a reader that never comes.
 * The service must hold at most about NAMESPACE_UNSENT_REPLY_BYTES of them for
 * that namespace (the rest are refused RATE_LIMITED before they are built),
 * give up a reply its reader has not taken within GRPC_REPLY_SEND_TIMEOUT_MS,
 * and answer another namespace's calls meanwhile.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { ListMessagesRequest } from '../gen/threads/threads';
import { clients, type Clients } from '../helpers/grpc';
import { MiB, peakRss, rss } from '../helpers/memory';
import { startProcess, type ServiceProcess } from '../helpers/process';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, TEST_TOKEN } from '../helpers/service';

const UNSENT_BUDGET = 16 * MiB;
const SEND_TIMEOUT_MS = 4000;

let redis: TestRedis;
let svc: ServiceProcess;
const open: Clients[] = [];
const sessions: ClientHttp2Session[] = [];

beforeAll(async () => {
  redis = await startRedis();
  svc = await startProcess(
    'dist/src/main.js',
    {
      REDIS_URL: redis.url,
      API_KEYS: `default:${TEST_TOKEN},other:${OTHER_TOKEN}`,
      HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-zw-')),
      NAMESPACE_UNSENT_REPLY_BYTES: String(UNSENT_BUDGET),
      GRPC_REPLY_SEND_TIMEOUT_MS: String(SEND_TIMEOUT_MS),
    },
    'gRPC server listening',
  );
});
afterAll(async () => {
  sessions.forEach((s) => s.destroy());
  open.forEach((c) => c.close());
  await svc?.stop();
  await redis?.stop();
});

/** A gRPC message frame (uncompressed). */
function frame(msg: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  Buffer.from(msg).copy(b, 5);
  return b;
}

/** An HTTP/2 connection that lets the server send no DATA at all: every stream's window is 0. */
function zeroWindowSession(): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${svc.port}`, { settings: { initialWindowSize: 0 } });
    sessions.push(s);
    s.on('error', () => undefined);
    s.once('remoteSettings', () => resolve(s));
    s.once('error', reject);
  });
}

interface Outcome {
  /** Headers came without a status: the reply is built and waiting for a window that never opens. */
  held: boolean;
  /** grpc-status, or minus the RST_STREAM code of a stream refused before any answer. */
  status?: number;
  message?: string;
  /** Resolves with the RST_STREAM code when the server gives the stream up. */
  closed: Promise<number>;
}

/** ListMessages on a zero-window connection; resolves once its response headers (or a reset) arrive. */
function stalledCall(s: ClientHttp2Session, body: Buffer): Promise<Outcome> {
  const stream = s.request({
    ':method': 'POST',
    ':path': '/threads.Threads/ListMessages',
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${TEST_TOKEN}`,
  });
  const closed = new Promise<number>((res) => stream.once('close', () => res(stream.rstCode ?? 0)));
  stream.on('error', () => undefined);
  stream.end(body);
  return new Promise((resolve) => {
    stream.once('response', (h) => {
      const st = h['grpc-status'];
      resolve(st === undefined ? { held: true, closed } : { held: false, status: Number(st), message: decodeURIComponent(String(h['grpc-message'] ?? '')), closed });
    });
    // Reset before any answer: refused by the connection's own memory limit (GRPC_MAX_SESSION_MEMORY_MIB).
    void closed.then((code) => resolve({ held: false, status: -code, closed }));
    // A stream the session never started (the server went away from it) counts as refused.
    setTimeout(() => resolve({ held: false, status: -2, closed }), 3000).unref();
  });
}

it('zero-window readers asking for 3.3 MB pages: the service holds about NAMESPACE_UNSENT_REPLY_BYTES of replies for them, refuses the rest, gives up stalled replies, and serves another namespace meanwhile', async () => {
  const target = `127.0.0.1:${svc.port}`;
  const heavy = clients(target, TEST_TOKEN, { ownConnection: true });
  const light = clients(target, OTHER_TOKEN, { ownConnection: true });
  open.push(heavy, light);
  // 200 messages of 16 KiB: one ListMessages of them is a 3.3 MB reply (the page).
  const { thread: big } = await heavy.threads.createThread({ groupId: 'g', topic: 'big' });
  const text = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 200; i += 20) {
    await Promise.all(Array.from({ length: 20 }, () => heavy.threads.createMessage({ threadId: big!.id, authorId: 'a', text })));
  }
  const { thread: small } = await light.threads.createThread({ groupId: 'g', topic: 'small' });
  const body = frame(ListMessagesRequest.encode({ threadId: big!.id, limit: '200', offset: '0', order: '', after: '', before: '', includeDeleted: '' }).finish());

  // Warm: the same reads once, read normally, so what follows measures held replies, not first-use allocations.
  for (let i = 0; i < 5; i++) await heavy.threads.listMessages({ threadId: big!.id, limit: '200' });
  const before = rss(svc.child.pid!);
  const peak = peakRss(svc.child.pid!);

  // The other namespace's cheap calls, timed against nothing: they must all be answered.
  let flooding = true;
  const lightErrors: string[] = [];
  let lightOk = 0;
  const lightLoop = (async () => {
    while (flooding) {
      await light.threads.readThread({ id: small!.id }).then(
        () => lightOk++,
        (e: Error) => lightErrors.push(String(e)),
      );
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  // The flood: up to 100 stalled replies (the figure), asked for again whenever refused, for up to 8 s.
  const zs = await Promise.all(Array.from({ length: 8 }, () => zeroWindowSession()));
  const held: Outcome[] = [];
  const refused = new Map<number, number>();
  const limitedMessages = new Set<string>();
  // Held replies not yet given up, and the most at once.
  let waiting = 0;
  let maxWaiting = 0;
  const until = Date.now() + 8000;
  let n = 0;
  while (held.length < 100 && Date.now() < until) {
    const i = n++ % zs.length;
    // A connection the server closed (too many refused streams) is replaced, as an attacker would.
    if (zs[i].closed || zs[i].destroyed) zs[i] = await zeroWindowSession();
    const batch = await Promise.all(Array.from({ length: 10 }, () => stalledCall(zs[i], body)));
    for (const o of batch) {
      if (o.held) {
        held.push(o);
        waiting++;
        maxWaiting = Math.max(maxWaiting, waiting);
        void o.closed.then(() => waiting--);
      }
      else {
        refused.set(o.status!, (refused.get(o.status!) ?? 0) + 1);
        if (o.status === 8) limitedMessages.add(o.message!.replace(/\d+/g, 'N'));
      }
    }
    if (!batch.some((o) => o.held)) await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const peakHeld = peak.stop() - before;

  // Stalled replies are given up after GRPC_REPLY_SEND_TIMEOUT_MS (their streams reset), and the
  // namespace reads again.
  const gaveUp = new Promise<number>((r) => setTimeout(() => r(-1), SEND_TIMEOUT_MS + 5000));
  const codes = await Promise.all(held.map((o) => Promise.race([o.closed, gaveUp])));
  flooding = false;
  await lightLoop;
  sessions.splice(0).forEach((s) => s.destroy());
  const again = await heavy.threads.listMessages({ threadId: big!.id, limit: '200' });
  // eslint-disable-next-line no-console
  if (process.env.MEMORY_REPORT) console.log(JSON.stringify({ held: held.length, maxWaiting, refused: Object.fromEntries(refused), limitedMessages: [...limitedMessages], peakHeldMiB: peakHeld / MiB, lightOk }));

  expect(lightErrors).toEqual([]);
  expect(lightOk).toBeGreaterThan(0);
  // Refused ones are RATE_LIMITED for the namespace's unread replies (8 = RESOURCE_EXHAUSTED), or
  // refused by HTTP/2 itself: a stream reset with ENHANCE_YOUR_CALM (11) before any answer, or never
  // started on a connection the server was closing (-2).
  expect([...refused.keys()].filter((c) => c !== 8 && c !== -11 && c !== -2)).toEqual([]);
  expect(refused.get(8)).toBeGreaterThan(0);
  expect([...limitedMessages]).toEqual([expect.stringContaining('NAMESPACE_UNSENT_REPLY_BYTES')]);
  // At most the budget plus one reply is held for the namespace (3.3 MB pages into 16 MiB: 5 or 6).
  expect(held.length).toBeGreaterThan(0);
  expect(maxWaiting).toBeLessThanOrEqual(Math.ceil(UNSENT_BUDGET / (3.2 * MiB)) + 1);
  for (const c of codes) expect(c).toBe(8); // NGHTTP2_CANCEL
  expect(again.messages).toHaveLength(200);
  // The process holds the budget, the pages being read, and what V8 has not collected yet of the
  // flood's hundreds of refused calls and the other tenant's calls: the V8 heap grows by 70-120 MB
  // under this churn (the peak measured 89-140 MB with other tests running), then stays. Without the
  // budget the same flood held 80 replies: +312 MB. The exact bound is on the replies held (above).
  expect(peakHeld).toBeLessThan(UNSENT_BUDGET + 176 * MiB);
}, 90_000);
