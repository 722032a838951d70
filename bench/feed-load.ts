/**
 * The live-feed benchmark's load processes (started by feed.ts), apart from
 * the service:
 *
 *   node dist/bench/feed-load.js <spec.json>        (lib/feed-spec.ts)
 *
 * A latency run is one process in role `both` (the default) or two, as the
 * runner chooses (BENCH_FEED_PROCESSES):
 * - `subscribers`: every subscriber; prints `READY` once all are live, takes
 *   the time of every event once it is decoded and records arrival − send;
 *   when the runner writes `SENT` on its stdin (the publisher has exited) it
 *   waits up to 30 s for the events still due, then prints `RESULT <json>`.
 * - `publisher`: open loop, `rate` messages per second (message i at origin +
 *   i / rate, to thread i mod threads), each text stamped with its index and
 *   the time it was sent on the machine's monotonic clock (the subscribers'
 *   clock too); prints `RESULT <json>` once every send is answered.
 * - `both`: the subscribers until all are live, then the publisher, then the
 *   subscribers' end, in one process; prints both results.
 *
 * Idle mode: opens the subscriptions, prints `READY <json>` once all are live,
 * and holds them until SIGTERM.
 */
import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { Client, credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { Event, ThreadsService, type SubscribeRequest } from '../test/gen/threads/threads';
import { monotonicMs, parseStamp, stampedText, type IdleReady, type IdleSpec, type LatencySpec, type BothResult, type PublisherResult, type SubscribersResult } from './lib/feed-spec';
import { AUTHOR, TEXT } from './lib/shapes';
import { percentileSorted } from './lib/stats';

const SUBSCRIBE = ThreadsService.subscribe;
const CREATE = ThreadsService.createMessage;
/** Never outlive a runner that could not stop this process. */
setTimeout(() => process.exit(3), 15 * 60_000).unref();

function grpcClient(port: number): Client {
  // A local subchannel pool: each Client its own HTTP/2 connection.
  return new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

function auth(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

const ready = (c: Client) => new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 20_000, (err) => (err ? reject(err) : resolve())));

/** A Subscribe call; resolves once its `live` event came, rejects when it ends before. */
function subscribe(c: Client, token: string, req: SubscribeRequest, onEvent: (e: Event) => void): { call: ClientReadableStream<Event>; live: Promise<void> } {
  const call = c.makeServerStreamRequest(SUBSCRIBE.path, SUBSCRIBE.requestSerialize, SUBSCRIBE.responseDeserialize, req, auth(token), {});
  const live = new Promise<void>((resolve, reject) => {
    call.on('data', (e: Event) => {
      if (e.type === 'live') resolve();
      else onEvent(e);
    });
    call.on('error', (err: ServiceError) => {
      reject(err);
      if (!cancelling) fail(`a subscription ended: ${err.code} ${err.details}`);
    });
    call.on('end', () => reject(new Error('the subscription ended')));
  });
  return { call, live };
}

// ---------------------------------------------------------------- gRPC on node:http2

function h2connect(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    s.on('error', (err: Error) => {
      if (!cancelling) fail(`HTTP/2 session: ${err.message}`);
    });
  });
}

function grpcHeaders(path: string, token: string): OutgoingHttpHeaders {
  return {
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: path,
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
  };
}

/** A gRPC message frame: uncompressed flag, 4-byte length, the message. */
function grpcFrame(msg: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(5 + msg.length);
  f[0] = 0;
  f.writeUInt32BE(msg.length, 1);
  f.set(msg, 5);
  return f;
}

/** A Subscribe stream: each gRPC message's bytes to `onMessage` (after `live`, which resolves `live`); it must not end. */
function h2subscribe(session: ClientHttp2Session, token: string, req: SubscribeRequest, onMessage: (bytes: Buffer) => void): { stream: ClientHttp2Stream; live: Promise<void> } {
  const stream = session.request(grpcHeaders(SUBSCRIBE.path, token));
  stream.end(grpcFrame(SUBSCRIBE.requestSerialize(req)));
  const live = new Promise<void>((resolve, reject) => {
    let isLive = false;
    let pending: Buffer | undefined;
    stream.on('data', (chunk: Buffer) => {
      let b = pending ? Buffer.concat([pending, chunk]) : chunk;
      while (b.length >= 5) {
        if (b[0] !== 0) fail('a compressed gRPC message');
        const end = 5 + b.readUInt32BE(1);
        if (b.length < end) break;
        const msg = b.subarray(5, end);
        b = b.subarray(end);
        if (isLive) onMessage(msg);
        else if (Event.decode(msg).type === 'live') {
          isLive = true;
          resolve();
        } else fail('an event before live (nothing was asked to be replayed)');
      }
      pending = b.length ? b : undefined;
    });
    const ended = (why: string) => {
      reject(new Error(why));
      if (!cancelling) fail(`a subscription ended: ${why}`);
    };
    stream.on('trailers', (h: IncomingHttpHeaders) => ended(`grpc-status ${String(h['grpc-status'])} ${decodeURIComponent(String(h['grpc-message'] ?? ''))}`));
    stream.on('response', (h: IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) ended(`grpc-status ${String(h['grpc-status'])} ${decodeURIComponent(String(h['grpc-message'] ?? ''))}`);
    });
    stream.on('error', (err: Error) => ended(err.message));
    stream.on('close', () => ended('the stream closed'));
  });
  return { stream, live };
}

let cancelling = false;
function fail(why: string): never {
  process.stderr.write(`feed-load: ${why}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------- latency

const cpuUs = (u: NodeJS.CpuUsage) => u.user + u.system;

interface Subscriber {
  thread: number;
  seen: Uint8Array;
  lastSeq: number;
}

/** How many messages a run sends, and which are warm-up. */
function counts(spec: LatencySpec) {
  const T = spec.threadIds.length;
  const total = Math.round((spec.warmupSeconds + spec.seconds) * spec.rate);
  const warmupCount = Math.round(spec.warmupSeconds * spec.rate);
  let expected = 0;
  for (let i = warmupCount; i < total; i++) expected += spec.subscribersPerThread;
  return { T, total, warmupCount, expected };
}

/** Resolves when the runner writes `SENT` on stdin (the publisher is done). */
function sentSignal(): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => {
      buf += d;
      if (buf.includes('SENT')) resolve();
    });
    process.stdin.on('end', () => resolve());
  });
}

/** How the subscribers learn that all are live and that the publisher is done: stdout/stdin (their own process), or in-process. */
interface Handshake {
  ready(): void;
  sent: Promise<void>;
}

const overPipes = (): Handshake => ({ ready: () => process.stdout.write('READY {}\n'), sent: sentSignal() });

async function subscribers(spec: LatencySpec, hs: Handshake = overPipes()): Promise<SubscribersResult> {
  const { T, total, warmupCount, expected } = counts(spec);
  const lat = new Float64Array(expected);
  /** The second of measured time each sample's message was sent in. */
  const second = new Uint16Array(expected);
  let samples = 0;
  let received = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let eventBytes = 0;

  const subs: Subscriber[] = [];
  for (let j = 0; j < T; j++) {
    for (let k = 0; k < spec.subscribersPerThread; k++) subs.push({ thread: j, seen: new Uint8Array(total), lastSeq: 0 });
  }
  /** One decoded event reaching one subscriber: the time is taken after decoding, in every mode. */
  const deliver = (s: Subscriber, e: Event) => {
    const now = monotonicMs();
    if (e.type !== 'created' || !e.message) return;
    const st = parseStamp(e.message.text);
    if (!st) return;
    const seq = Number(e.message.seq);
    if (seq <= s.lastSeq) outOfOrder++;
    s.lastSeq = seq;
    if (st.i < warmupCount) return;
    if (s.seen[st.i]) {
      duplicates++;
      return;
    }
    s.seen[st.i] = 1;
    received++;
    if (samples < lat.length) {
      second[samples] = Math.floor((st.i - warmupCount) / spec.rate);
      lat[samples++] = now - st.sentMs;
    }
  };

  const closers: (() => void)[] = [];
  if (spec.mode === 'service' && (spec.client ?? 'http2') === 'http2') {
    // gRPC on node:http2: `connections` sessions, the subscribers spread over them.
    const sessions = await Promise.all(Array.from({ length: spec.connections }, () => h2connect(spec.port)));
    const streams: ClientHttp2Stream[] = [];
    const lives = subs.map((s, n) => {
      const { stream, live } = h2subscribe(sessions[n % sessions.length], spec.token, { threadIds: [spec.threadIds[s.thread]], after: [] }, (bytes) => {
        const e = Event.decode(bytes);
        if (eventBytes === 0) eventBytes = bytes.length;
        deliver(s, e);
      });
      streams.push(stream);
      return live;
    });
    await Promise.all(lives);
    closers.push(() => {
      cancelling = true;
      for (const st of streams) st.close(constants.NGHTTP2_CANCEL);
      for (const s of sessions) s.destroy();
    });
  } else if (spec.mode === 'service') {
    const clients = Array.from({ length: spec.connections }, () => grpcClient(spec.port));
    await Promise.all(clients.map(ready));
    const calls: ClientReadableStream<Event>[] = [];
    const lives = subs.map((s, n) => {
      const { call, live } = subscribe(clients[n % clients.length], spec.token, { threadIds: [spec.threadIds[s.thread]], after: [] }, (e) => {
        if (eventBytes === 0) eventBytes = Event.encode(e).finish().length;
        deliver(s, e);
      });
      calls.push(call);
      return live;
    });
    await Promise.all(lives);
    closers.push(() => {
      cancelling = true;
      for (const c of calls) c.cancel();
      for (const c of clients) c.close();
    });
  } else {
    const onPayload = (s: Subscriber, buf: Buffer) => {
      if (eventBytes === 0) eventBytes = buf.length;
      deliver(s, Event.decode(buf));
    };
    const conns: Redis[] = [];
    if (spec.mode === 'floor-connections') {
      // 100 connections, one per subscriber: Redis copies each message to the 10 of its channel.
      for (const s of subs) {
        const r = await redisConnect(spec.port);
        r.on('messageBuffer', (_ch: Buffer, buf: Buffer) => onPayload(s, buf));
        await r.subscribe(floorChannel(spec, s.thread));
        conns.push(r);
      }
    } else {
      // One connection on the 10 channels; the process hands each message to the 10 listeners of its channel.
      const r = await redisConnect(spec.port);
      const listeners = new Map<string, ((buf: Buffer) => void)[]>();
      for (const s of subs) {
        const ch = floorChannel(spec, s.thread);
        listeners.set(ch, [...(listeners.get(ch) ?? []), (buf) => onPayload(s, buf)]);
      }
      r.on('messageBuffer', (ch: Buffer, buf: Buffer) => {
        for (const f of listeners.get(ch.toString()) ?? []) f(buf);
      });
      await r.subscribe(...listeners.keys());
      conns.push(r);
    }
    closers.push(() => {
      cancelling = true;
      for (const r of conns) r.disconnect();
    });
  }

  hs.ready();
  await hs.sent;
  // Every event delivered, or 30 s after the last send (a service far behind still counts its latency).
  const drainUntil = monotonicMs() + 30_000;
  while (received < expected && monotonicMs() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  for (const c of closers) c();

  const bySecond: number[][] = Array.from({ length: Math.ceil(spec.seconds) }, () => []);
  for (let k = 0; k < samples; k++) bySecond[Math.min(second[k], bySecond.length - 1)].push(lat[k]);
  const secondSorted = bySecond.map((xs) => Float64Array.from(xs).sort());
  const sorted = lat.subarray(0, samples).sort();
  return {
    samples,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
    p999Ms: percentileSorted(sorted, 99.9),
    maxMs: samples ? sorted[samples - 1] : NaN,
    expected,
    received,
    duplicates,
    outOfOrder,
    eventBytes,
    p99BySecondMs: secondSorted.map((xs) => percentileSorted(xs, 99)),
    maxBySecondMs: secondSorted.map((xs) => (xs.length ? xs[xs.length - 1] : NaN)),
    cpuUs: cpuUs(process.cpuUsage()),
  };
}

async function publisher(spec: LatencySpec): Promise<PublisherResult> {
  const { T, total, warmupCount } = counts(spec);
  const intervalMs = 1000 / spec.rate;
  let send: (i: number, done: (err?: unknown) => void) => void;
  let close: () => void;
  if (spec.mode === 'service' && (spec.client ?? 'http2') === 'http2') {
    leanRequestBinding();
    const session = await h2connect(spec.port);
    const headers = grpcHeaders(CREATE.path, spec.token);
    send = (i, done) => {
      // The stream first (node:http2 allocates most here), then the stamp and the body.
      const req = session.request(headers);
      const sentMs = monotonicMs();
      const body = grpcFrame(CREATE.requestSerialize({ id: '', threadId: spec.threadIds[i % T], authorId: AUTHOR, text: stampedText(i, sentMs, TEXT), metadata: {} }));
      let grpcStatus: string | undefined;
      let message = '';
      const status = (h: IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) {
          grpcStatus = String(h['grpc-status']);
          message = String(h['grpc-message'] ?? '');
        }
      };
      req.on('response', status);
      req.on('trailers', status);
      req.on('data', () => undefined);
      req.on('error', (err: Error) => done(err));
      req.on('close', () => done(grpcStatus === '0' ? undefined : new Error(`grpc-status ${grpcStatus}: ${decodeURIComponent(message)}`)));
      req.end(body);
    };
    close = () => {
      cancelling = true;
      session.destroy();
    };
  } else if (spec.mode === 'service') {
    const writer = grpcClient(spec.port);
    await ready(writer);
    send = (i, done) => {
      const sentMs = monotonicMs();
      writer.makeUnaryRequest(
        CREATE.path,
        CREATE.requestSerialize,
        (b: Buffer) => b,
        { id: '', threadId: spec.threadIds[i % T], authorId: AUTHOR, text: stampedText(i, sentMs, TEXT), metadata: {} },
        auth(spec.token),
        {},
        (err) => done(err ?? undefined),
      );
    };
    close = () => {
      cancelling = true;
      writer.close();
    };
  } else {
    const writer = await redisConnect(spec.port);
    const seqs = new Array<number>(T).fill(0);
    // The Event the service would send for the message: the same fields, an id, an RFC 3339 time, a cursor as long as its own.
    const cursor = 'c'.repeat(spec.cursorLength);
    send = (i, done) => {
      const j = i % T;
      const sentMs = monotonicMs();
      const payload = Event.encode({
        type: 'created',
        threadId: spec.threadIds[j],
        message: {
          id: randomUUID(),
          authorId: AUTHOR,
          threadId: spec.threadIds[j],
          text: stampedText(i, sentMs, TEXT),
          sentAt: new Date().toISOString().replace('Z', '123456Z'),
          seq: String(++seqs[j]),
          metadata: {},
          editedAt: '',
          deletedAt: '',
        },
        cursor,
        resumeId: '',
      }).finish();
      writer.publish(floorChannel(spec, j), Buffer.from(payload)).then(
        () => done(),
        (err: unknown) => done(err),
      );
    };
    close = () => {
      cancelling = true;
      writer.disconnect();
    };
  }

  // Open loop: message i due at origin + i × interval; each tick sends every message due.
  let sent = 0;
  let sendErrors = 0;
  let pending = 0;
  let firstError = '';
  const late: number[] = [];
  const origin = monotonicMs() + 20;
  let firstMeasured = 0;
  let lastMeasured = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      let now = monotonicMs();
      while (sent < total && origin + sent * intervalMs <= now) {
        if (sent >= warmupCount) {
          late.push(now - (origin + sent * intervalMs));
          if (sent === warmupCount) firstMeasured = now;
          lastMeasured = now;
        }
        pending++;
        send(sent++, (err) => {
          pending--;
          if (err) {
            sendErrors++;
            firstError ||= String((err as Error).message ?? err);
          }
        });
        now = monotonicMs();
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, origin + sent * intervalMs - monotonicMs()));
    };
    tick();
  });
  // Every send answered (or 30 s).
  const until = monotonicMs() + 30_000;
  while (pending > 0 && monotonicMs() < until) await new Promise((r) => setTimeout(r, 20));
  if (pending > 0) {
    sendErrors += pending;
    firstError ||= `${pending} sends unanswered after 30 s`;
  }
  close();
  const lateSorted = Float64Array.from(late).sort();
  return {
    sent,
    sendErrors,
    firstError,
    lateP99Ms: percentileSorted(lateSorted, 99),
    lateMaxMs: lateSorted.length ? lateSorted[lateSorted.length - 1] : NaN,
    achievedRate: lastMeasured > firstMeasured ? ((late.length - 1) * 1000) / (lastMeasured - firstMeasured) : NaN,
    cpuUs: cpuUs(process.cpuUsage()),
  };
}

/**
 * node:http2's client binds each request to an AsyncResource (`request()`:
 * `reqAsync.bind(...)`), and AsyncResource#bind gives every bound function an
 * own `asyncResource` accessor (a deprecated getter and setter, new closures
 * each time): a hidden class per request, in V8's old generation, which keeps
 * the request's objects alive until a full GC (1.4–2.2 MB promoted per
 * scavenge at 1,000 requests/s, measured). The publisher is the instrument,
 * not what is measured, and the floors' publisher (ioredis) carries no such
 * cost; so in this process bind makes the same bound function without that
 * accessor, which nothing here reads.
 */
function leanRequestBinding(): void {
  type Fn = (this: unknown, ...args: unknown[]) => unknown;
  const bind = function (this: AsyncResource, fn: Fn, thisArg?: unknown): Fn {
    if (thisArg !== undefined) return this.runInAsyncScope.bind(this, fn, thisArg) as Fn;
    const resource = this;
    return function (this: unknown, ...args: unknown[]) {
      return resource.runInAsyncScope(fn, this, ...args);
    };
  };
  AsyncResource.prototype.bind = bind as unknown as typeof AsyncResource.prototype.bind;
}

const floorChannel = (spec: LatencySpec, j: number) => `bench-feed:${spec.threadIds[j]}`;

async function redisConnect(port: number): Promise<Redis> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  r.on('error', (err: Error) => {
    if (!cancelling) fail(`redis: ${err.message}`);
  });
  await r.connect();
  return r;
}

// ---------------------------------------------------------------- idle

async function idle(spec: IdleSpec): Promise<void> {
  const t0 = performance.now();
  const n = spec.threadIds.length;
  const connections = Math.ceil(n / spec.streamsPerConnection);
  const calls: ClientReadableStream<Event>[] = [];
  const clients: Client[] = [];
  // One connection at a time: its streams opened together, all live before the next connection.
  for (let c = 0; c < connections; c++) {
    const client = grpcClient(spec.port);
    await ready(client);
    clients.push(client);
    const lives: Promise<void>[] = [];
    for (let i = c * spec.streamsPerConnection; i < Math.min(n, (c + 1) * spec.streamsPerConnection); i++) {
      const { call, live } = subscribe(client, spec.token, { threadIds: [spec.threadIds[i]], after: [] }, () => undefined);
      calls.push(call);
      lives.push(live);
    }
    await Promise.all(lives);
  }
  const r: IdleReady = { open: calls.length, connections, openSeconds: (performance.now() - t0) / 1000 };
  process.stdout.write(`READY ${JSON.stringify(r)}\n`);
  process.on('SIGTERM', () => {
    cancelling = true;
    for (const c of calls) c.cancel();
    for (const c of clients) c.close();
    process.exit(0);
  });
  // Held until SIGTERM.
  setInterval(() => undefined, 60_000);
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as LatencySpec | IdleSpec;
  if (spec.mode === 'idle') return idle(spec);
  if (spec.role === 'both') {
    // One process: the subscribers, once all are live the publisher, then the subscribers' end.
    let ready!: () => void;
    let sent!: () => void;
    const live = new Promise<void>((r) => (ready = r));
    const done = new Promise<void>((r) => (sent = r));
    const subs = subscribers(spec, { ready, sent: done });
    await live;
    const pub = await publisher(spec);
    sent();
    const r: BothResult = { publisher: pub, subscribers: await subs };
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  const r = spec.role === 'publisher' ? await publisher(spec) : await subscribers(spec);
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
