/**
 * The live-feed benchmark's load process (started by feed.ts, one per run):
 * the writer and every subscriber in one Node process, apart from the service.
 *
 *   node dist/bench/feed-load.js <spec.json>        (lib/feed-spec.ts)
 *
 * Latency modes: subscribe, wait until every subscriber is live, then write
 * open loop, `rate` messages per second (message i at origin + i / rate,
 * to thread i mod threads), each text stamped with its index and the time it
 * was sent (performance.now(), this process's clock: writer and subscribers
 * share it). Every subscriber records arrival − send for every event, after
 * the event is decoded. Prints `RESULT <json>` and exits.
 *
 * Idle mode: opens the subscriptions, prints `READY <json>` once all are live,
 * and holds them until SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { Event, ThreadsService, type SubscribeRequest } from '../test/gen/threads/threads';
import { parseStamp, stampedText, type IdleReady, type IdleSpec, type LatencyResult, type LatencySpec } from './lib/feed-spec';
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

async function latency(spec: LatencySpec): Promise<LatencyResult> {
  const T = spec.threadIds.length;
  const total = Math.round((spec.warmupSeconds + spec.seconds) * spec.rate);
  const warmupCount = Math.round(spec.warmupSeconds * spec.rate);
  const intervalMs = 1000 / spec.rate;
  const measuredPerThread = (j: number) => {
    let n = 0;
    for (let i = warmupCount; i < total; i++) if (i % T === j) n++;
    return n;
  };
  const expected = spec.threadIds.reduce((a, _, j) => a + measuredPerThread(j) * spec.subscribersPerThread, 0);
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
    const now = performance.now();
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

  // Subscribers, and a send function for the writer.
  let send: (i: number, done: (err?: unknown) => void) => void;
  const closers: (() => void)[] = [];
  if (spec.mode === 'service') {
    const clients = Array.from({ length: spec.connections }, () => grpcClient(spec.port));
    const writer = grpcClient(spec.port);
    await Promise.all([...clients, writer].map(ready));
    const lives: Promise<void>[] = [];
    const calls: ClientReadableStream<Event>[] = [];
    subs.forEach((s, n) => {
      const { call, live } = subscribe(clients[n % clients.length], spec.token, { threadIds: [spec.threadIds[s.thread]], after: [] }, (e) => {
        if (eventBytes === 0) eventBytes = Event.encode(e).finish().length;
        deliver(s, e);
      });
      calls.push(call);
      lives.push(live);
    });
    await Promise.all(lives);
    send = (i, done) => {
      const sentMs = performance.now();
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
    closers.push(() => {
      cancelling = true;
      for (const c of calls) c.cancel();
      for (const c of [...clients, writer]) c.close();
    });
  } else {
    const channel = (j: number) => `bench-feed:${spec.threadIds[j]}`;
    const connect = async () => {
      const r = new Redis({ host: '127.0.0.1', port: spec.port, lazyConnect: true });
      r.on('error', (err: Error) => {
        if (!cancelling) fail(`redis: ${err.message}`);
      });
      await r.connect();
      return r;
    };
    const onPayload = (s: Subscriber, buf: Buffer) => {
      if (eventBytes === 0) eventBytes = buf.length;
      deliver(s, Event.decode(buf));
    };
    const conns: Redis[] = [];
    if (spec.mode === 'floor-connections') {
      // 100 connections, one per subscriber: Redis copies each message to the 10 of its channel.
      for (const s of subs) {
        const r = await connect();
        r.on('messageBuffer', (_ch: Buffer, buf: Buffer) => onPayload(s, buf));
        await r.subscribe(channel(s.thread));
        conns.push(r);
      }
    } else {
      // One connection on the 10 channels; the process hands each message to the 10 listeners of its channel.
      const r = await connect();
      const listeners = new Map<string, ((buf: Buffer) => void)[]>();
      for (const s of subs) {
        const ch = channel(s.thread);
        listeners.set(ch, [...(listeners.get(ch) ?? []), (buf) => onPayload(s, buf)]);
      }
      r.on('messageBuffer', (ch: Buffer, buf: Buffer) => {
        for (const f of listeners.get(ch.toString()) ?? []) f(buf);
      });
      await r.subscribe(...listeners.keys());
      conns.push(r);
    }
    const writer = await connect();
    const seqs = new Array<number>(T).fill(0);
    // The Event the service would send for the message: the same fields, an id, an RFC 3339 time, a cursor as long as its own.
    const cursor = 'c'.repeat(spec.cursorLength);
    send = (i, done) => {
      const j = i % T;
      const sentMs = performance.now();
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
      writer.publish(channel(j), Buffer.from(payload)).then(
        () => done(),
        (err: unknown) => done(err),
      );
    };
    closers.push(() => {
      cancelling = true;
      for (const r of [...conns, writer]) r.disconnect();
    });
  }

  // The writer: open loop, message i due at origin + i × interval; each tick sends every message due.
  let sent = 0;
  let sendErrors = 0;
  let pending = 0;
  let firstError = '';
  const late: number[] = [];
  const origin = performance.now() + 20;
  let firstMeasured = 0;
  let lastMeasured = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      let now = performance.now();
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
        now = performance.now();
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, origin + sent * intervalMs - performance.now()));
    };
    tick();
  });
  // Drain: every send answered, then every event delivered (or 30 s: a service far behind still counts its latency).
  const drainUntil = performance.now() + 30_000;
  while ((pending > 0 || received < expected) && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  for (const c of closers) c();
  if (sendErrors) process.stderr.write(`feed-load: ${sendErrors} sends failed, the first: ${firstError}\n`);

  const bySecond: number[][] = Array.from({ length: Math.ceil(spec.seconds) }, () => []);
  for (let k = 0; k < samples; k++) bySecond[Math.min(second[k], bySecond.length - 1)].push(lat[k]);
  const secondSorted = bySecond.map((xs) => Float64Array.from(xs).sort());
  const sorted = lat.subarray(0, samples).sort();
  const lateSorted = Float64Array.from(late).sort();
  return {
    mode: spec.mode,
    samples,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
    p999Ms: percentileSorted(sorted, 99.9),
    maxMs: samples ? sorted[samples - 1] : NaN,
    expected,
    received,
    duplicates,
    outOfOrder,
    sent,
    sendErrors,
    lateP99Ms: percentileSorted(lateSorted, 99),
    lateMaxMs: lateSorted.length ? lateSorted[lateSorted.length - 1] : NaN,
    achievedRate: lastMeasured > firstMeasured ? ((late.length - 1) * 1000) / (lastMeasured - firstMeasured) : NaN,
    eventBytes,
    p99BySecondMs: secondSorted.map((xs) => percentileSorted(xs, 99)),
    maxBySecondMs: secondSorted.map((xs) => (xs.length ? xs[xs.length - 1] : NaN)),
    loadCpuUs: cpuUs(process.cpuUsage()) / sent,
  };
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
  const r = await latency(spec);
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
