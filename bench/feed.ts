/**
 * The live feed's benchmark (bench/README.md, "Live feed"): run by `make bench`
 * after its other cases (run.ts starts this script), or alone:
 *
 *   node dist/bench/feed.js            # or: BENCH_ONLY=feed make bench
 *
 * Starts its own redis-server and service (lib/stack.ts) and, per latency run,
 * a load process (feed-load.ts): the publisher and all the subscribers
 * (BENCH_FEED_PROCESSES=2: one process each). Measures:
 *
 * 1. publish → deliver latency at 1,000 messages/s, 100 subscribers over 10
 *    threads, beside two floors doing the same fan-out over bare Redis pub/sub
 *    (targets interleaved run by run; a run other processes disturbed is run
 *    again, lib/cpu.ts);
 * 2. idle subscribers: the service's RSS and heap before and after N idle
 *    Subscribe calls, each on its own thread and all on one thread (a fresh
 *    service process for each), extrapolated to subscribers per GiB;
 * 3. resume: Subscribe `after` a cursor 1,000 events back until `live`,
 *    against a ListMessages of limit 1000 of the same thread.
 *
 * Prints the report on stdout (progress on stderr) and writes it to
 * <BENCH_OUT>/feed-last-run.md and .json. Every process it starts is stopped
 * by its PID at the end, also on failure.
 *
 * Env: BENCH_QUICK=1, BENCH_FEED_RUNS (3), BENCH_FEED_SECONDS (10),
 * BENCH_FEED_WARMUP_SECONDS (2), BENCH_FEED_IDLE (5000), BENCH_FEED_RESUME_RUNS (7),
 * BENCH_MAX_FOREIGN_CORES (0.15), BENCH_RETRY_BUDGET_SECONDS (120), BENCH_OUT;
 * BENCH_FEED_PROCESSES (1), BENCH_ALT_SERVICE (another build, one more latency target);
 * for diagnosis: BENCH_FEED_TARGETS (modes to run), BENCH_FEED_CLIENT=grpc-js.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import { ThreadsService, type Event } from '../test/gen/threads/threads';
import { processMicros, runQuiet, type RetryBudget } from './lib/cpu';
import type { BothResult, FeedLoadSpec, IdleReady, IdleSpec, LatencyResult, LatencySpec, PublisherResult, SubscribersResult } from './lib/feed-spec';
import { freePort, installCleanup, spawnTracked, stop, stopAll, waitUntil, type Tracked } from './lib/procs';
import { Rpc } from './lib/rpc';
import { envNumber } from './lib/settings';
import { AUTHOR, TEXT } from './lib/shapes';
import { serviceReady, startRedis, startService, type RedisProc, type ServiceProc } from './lib/stack';
import { fmtMs, max, median, min } from './lib/stats';

const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = envNumber('BENCH_FEED_RUNS', QUICK ? 1 : 3);
const SECONDS = envNumber('BENCH_FEED_SECONDS', QUICK ? 2 : 10);
const WARMUP = envNumber('BENCH_FEED_WARMUP_SECONDS', QUICK ? 1 : 2);
const IDLE = envNumber('BENCH_FEED_IDLE', QUICK ? 1000 : 5000);
const RESUME_RUNS = envNumber('BENCH_FEED_RESUME_RUNS', QUICK ? 3 : 7);
const MAX_FOREIGN = envNumber('BENCH_MAX_FOREIGN_CORES', 0.15);
const OUT = resolve(process.env.BENCH_OUT ?? join(DIST, 'bench'));
/** Which of the three cases run (a comma list; all by default). */
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const CASES = new Set((process.env.BENCH_FEED_CASES ?? 'latency,resume,idle').split(',').map((x) => x.trim()));
const retryBudget: RetryBudget = { seconds: envNumber('BENCH_RETRY_BUDGET_SECONDS', QUICK ? 10 : 120) };

/** The latency case: 1,000 messages/s over 10 threads, 10 subscribers each, on 4 HTTP/2 connections. */
const RATE = envNumber('BENCH_FEED_RATE', 1000);
const THREADS = 10;
const SUBS_PER_THREAD = envNumber('BENCH_FEED_SUBSCRIBERS_PER_THREAD', 10);
const SUB_CONNECTIONS = 4;
/**
 * Load processes per latency run: 1, the publisher and the subscribers in one (default: the
 * strongest floor, bench/README.md "Live feed"); 2, a publisher process and a subscribers process.
 */
const PROCESSES = envNumber('BENCH_FEED_PROCESSES', 1) === 2 ? 2 : 1;
/** The service's gRPC client in the load processes (lib/feed-spec.ts): node:http2 by default, `grpc-js` for diagnosis. */
const CLIENT = process.env.BENCH_FEED_CLIENT === 'grpc-js' ? 'grpc-js' : 'http2';
/** Idle subscribers per HTTP/2 connection: under the service's GRPC_MAX_CONCURRENT_STREAMS (100). */
const STREAMS_PER_CONNECTION = 90;
/** Events replayed in the resume case. */
const RESUME_EVENTS = 1000;
/** The p99 target: service ≤ this × the floor. */
const P99_FACTOR = 2;
const NS = 'default';

const T = ThreadsService;
const log = (s: string) => process.stderr.write(`[bench feed ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let specSeq = 0;
/** BENCH_CPU_PROF=<dir>: the service and the load processes write V8 CPU profiles there. */
function nodeArgs(name: string): string[] {
  return CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, '--cpu-prof-name', `${name}.${Date.now()}.${specSeq}.cpuprofile`] : [];
}

interface Stack {
  dir: string;
  token: string;
  redis: RedisProc;
}

async function startFeedService(s: Stack, name: string): Promise<ServiceProc & { metricsPort: number }> {
  const metricsPort = await freePort();
  const svc = await startService(name, {
    main: join(DIST, 'src', 'main.js'),
    redisUrl: s.redis.url,
    apiKeys: `${NS}:${s.token}`,
    dataDir: join(s.dir, 'service'),
    env: { METRICS_PORT: String(metricsPort) },
    nodeArgs: nodeArgs('feed-service'),
  });
  await serviceReady(svc);
  return { ...svc, metricsPort };
}

async function createThreads(rpc: Rpc, n: number, topic: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, k) => rpc.call(T.createThread, { createdBy: '', parentThreadId: '', parentMessageId: '', participants: [], groupId: 'bench-feed', topic: `${topic} ${i + k}`, metadata: {} })),
    );
    for (const b of batch) ids.push(b.reply.thread!.id);
  }
  return ids;
}

async function post(rpc: Rpc, threadId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => rpc.call(T.createMessage, { id: '', threadId, authorId: AUTHOR, text: TEXT, metadata: {} })));
  }
}

/** One load process (feed-load.ts), its spec in a file; `stdin`: a pipe the runner writes to (the subscribers' `SENT`). */
function spawnLoad(s: Stack, spec: FeedLoadSpec, stdin = false): Tracked {
  const file = join(s.dir, `load-${++specSeq}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const name = spec.mode === 'idle' ? 'idle' : `${spec.mode}-${spec.role}`;
  return spawnTracked(`feed load (${name})`, process.execPath, [...nodeArgs(`feed-load-${name}`), join(DIST, 'bench', 'feed-load.js'), file], {
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

function line(t: Tracked, tag: string): string | undefined {
  const m = new RegExp(`^${tag} (.*)$`, 'm').exec(t.output());
  return m?.[1];
}

// ---------------------------------------------------------------- 1. latency

interface LatencyTarget {
  label: string;
  mode: LatencySpec['mode'];
  /** Processes that serve it (CPU per message). */
  procs: string[];
  /** The BENCH_ALT_SERVICE build's service (A/B), not the one the targets are about. */
  alt?: boolean;
}

interface LatencyRun extends LatencyResult {
  foreign: number;
  /** CPU of the target's server processes per message sent, µs (subscribing and warm-up included). */
  cpuUs: number;
}

interface LatencyRow {
  label: string;
  mode: LatencySpec['mode'];
  alt?: boolean;
  runs: LatencyRun[];
  p50: number;
  p99: number;
  p99Min: number;
  p99Max: number;
  p999: number;
  cpuUs: number;
  foreign: number;
}

const ALL_LATENCY_TARGETS: LatencyTarget[] = [
  { label: 'service: gRPC CreateMessage → Subscribe', mode: 'service', procs: ['service', 'redis'] },
  { label: 'floor: PUBLISH → 100 Redis connections (Redis fans out)', mode: 'floor-connections', procs: ['redis'] },
  { label: 'floor: PUBLISH → 1 Redis connection, 100 listener callbacks (the process fans out)', mode: 'floor-callbacks', procs: ['redis'] },
];
/** BENCH_ALT_SERVICE=<another build's dist/src/main.js>: its service on the same Redis, one more target (as in run.ts: A/B of a change). */
const ALT_SERVICE = process.env.BENCH_ALT_SERVICE ? resolve(process.env.BENCH_ALT_SERVICE) : undefined;
if (ALT_SERVICE) ALL_LATENCY_TARGETS.splice(1, 0, { label: `alt build (${ALT_SERVICE}): gRPC CreateMessage → Subscribe`, mode: 'service', procs: ['alt', 'redis'], alt: true });
/** BENCH_FEED_TARGETS (diagnosis only): a comma list of the modes to run; all by default. */
const LATENCY_TARGETS = process.env.BENCH_FEED_TARGETS
  ? ALL_LATENCY_TARGETS.filter((t) => process.env.BENCH_FEED_TARGETS!.split(',').includes(t.mode))
  : ALL_LATENCY_TARGETS;

/** One run of a target; `retry`: again (twice at most, within the budget) when other processes used the CPU meanwhile. */
async function latencyRun(s: Stack, svcs: Services, threadIds: string[], cursorLength: number, t: LatencyTarget, seconds: number, retry: boolean): Promise<LatencyRun> {
  const svc = t.alt ? svcs.alt! : svcs.main;
  const spec: Omit<LatencySpec, 'role'> = {
    mode: t.mode,
    port: t.mode === 'service' ? svc.grpcPort : s.redis.port,
    token: s.token,
    threadIds,
    subscribersPerThread: SUBS_PER_THREAD,
    connections: SUB_CONNECTIONS,
    client: CLIENT,
    rate: RATE,
    warmupSeconds: WARMUP,
    seconds,
    cursorLength,
  };
  const pids: Record<string, number> = { redis: s.redis.proc.child.pid!, service: svcs.main.proc.child.pid! };
  if (svcs.alt) pids.alt = svcs.alt.proc.child.pid!;
  const check = (r: LatencyResult, firstError: string, output: string) => {
    if (r.sendErrors || r.received !== r.expected || r.duplicates || r.outOfOrder) {
      throw new Error(
        `${t.label}: ${r.sendErrors} failed sends (${firstError}), ${r.received} of ${r.expected} events delivered, ${r.duplicates} duplicates, ${r.outOfOrder} out of order\n${output.slice(-2000)}`,
      );
    }
    return r;
  };
  /** One process: the publisher and the subscribers (BENCH_FEED_PROCESSES=1). */
  const inOne = async (): Promise<LatencyResult> => {
    const load = spawnLoad(s, { ...spec, role: 'both' });
    const { code } = await load.exited;
    const out = line(load, 'RESULT');
    if (code !== 0 || !out) throw new Error(`${t.label}: the load process exited ${code}:\n${load.output().slice(-3000)}`);
    const { publisher: p, subscribers: q } = JSON.parse(out) as BothResult;
    return check({ ...q, ...p, mode: t.mode, loadCpuUs: q.cpuUs / p.sent, publisherCpuUs: NaN, subscribersCpuUs: NaN }, p.firstError, load.output());
  };
  /** The subscribers until all are live, then the publisher to its end, then the subscribers to theirs. */
  const once = async (): Promise<LatencyResult> => {
    if (PROCESSES === 1) return inOne();
    const subscribers = spawnLoad(s, { ...spec, role: 'subscribers' }, true);
    await waitUntil(`${t.label}: the subscribers to be live`, subscribers, async () => line(subscribers, 'READY') !== undefined, 60_000);
    const publisher = spawnLoad(s, { ...spec, role: 'publisher' });
    const pub = await publisher.exited;
    subscribers.child.stdin!.end('SENT\n');
    const sub = await subscribers.exited;
    const pubOut = line(publisher, 'RESULT');
    const subOut = line(subscribers, 'RESULT');
    if (pub.code !== 0 || !pubOut) throw new Error(`${t.label}: the publisher exited ${pub.code}:\n${publisher.output().slice(-3000)}`);
    if (sub.code !== 0 || !subOut) throw new Error(`${t.label}: the subscribers exited ${sub.code}:\n${subscribers.output().slice(-3000)}`);
    const p = JSON.parse(pubOut) as PublisherResult;
    const q = JSON.parse(subOut) as SubscribersResult;
    const r: LatencyResult = {
      ...q,
      ...p,
      mode: t.mode,
      loadCpuUs: (p.cpuUs + q.cpuUs) / p.sent,
      publisherCpuUs: p.cpuUs / p.sent,
      subscribersCpuUs: q.cpuUs / p.sent,
    };
    return check(r, p.firstError, subscribers.output());
  };
  const { result: r, a, b, foreign } = await runQuiet(pids, once, {
    maxForeign: retry ? MAX_FOREIGN : Infinity,
    budget: retryBudget,
    costSeconds: WARMUP + seconds + 2,
    onDisturbed: (f, again) => log(`  (${t.mode}: other processes used ${f.toFixed(2)} CPUs during the run${again ? '; running it again' : ''})`),
  });
  return { ...r, foreign, cpuUs: processMicros(a, b, t.procs) / r.sent };
}

/** The service the targets are about, and the BENCH_ALT_SERVICE build's when given. */
interface Services {
  main: ServiceProc;
  alt?: ServiceProc;
}

async function measureLatency(s: Stack, svc: Services, rpc: Rpc): Promise<LatencyRow[]> {
  const threadIds = await createThreads(rpc, THREADS, 'feed latency');
  // The floors publish an Event with a cursor as long as the service's.
  await post(rpc, threadIds[0], 1);
  const cursorLength = (await rpc.call(T.listMessages, { threadId: threadIds[0], limit: '1', offset: '0', order: '', after: '', before: '', includeDeleted: '' })).reply.feedCursor.length;
  if (cursorLength === 0) throw new Error('ListMessages answered no feed_cursor');
  const runs: LatencyRun[][] = LATENCY_TARGETS.map(() => []);
  // A warm-up run per target, thrown away (as run.ts does): the service's code paths compiled, the pools grown.
  for (const t of LATENCY_TARGETS) {
    const x = await latencyRun(s, svc, threadIds, cursorLength, t, Math.min(SECONDS, 3), false);
    log(`  warm-up ${t.alt ? 'alt build' : t.mode}: p50 ${fmtMs(x.p50Ms)} ms, p99 ${fmtMs(x.p99Ms)} ms (not counted)`);
  }
  for (let r = 0; r < RUNS; r++) {
    for (const [i, t] of LATENCY_TARGETS.entries()) {
      const x = await latencyRun(s, svc, threadIds, cursorLength, t, SECONDS, true);
      runs[i].push(x);
      log(
        `  run ${r + 1}/${RUNS} ${t.alt ? 'alt build' : t.mode}: p50 ${fmtMs(x.p50Ms)} ms, p99 ${fmtMs(x.p99Ms)} ms, p99.9 ${fmtMs(x.p999Ms)} ms, max ${fmtMs(x.maxMs)} ms; ` +
          `${x.samples} deliveries, writer ${x.achievedRate.toFixed(0)}/s (late p99 ${fmtMs(x.lateP99Ms)} ms), ${x.cpuUs.toFixed(0)} µs/msg (load: ${PROCESSES === 1 ? `${x.loadCpuUs.toFixed(0)}, one process` : `publisher ${x.publisherCpuUs.toFixed(0)} + subscribers ${x.subscribersCpuUs.toFixed(0)}`}), foreign ${x.foreign.toFixed(2)} CPUs; ` +
          `p99 by second ${x.p99BySecondMs.map(fmtMs).join(' ')}`,
      );
    }
  }
  return LATENCY_TARGETS.map((t, i) => {
    const rs = runs[i];
    const p99s = rs.map((x) => x.p99Ms);
    return {
      label: t.label,
      mode: t.mode,
      alt: t.alt,
      runs: rs,
      p50: median(rs.map((x) => x.p50Ms)),
      p99: median(p99s),
      p99Min: min(p99s),
      p99Max: max(p99s),
      p999: median(rs.map((x) => x.p999Ms)),
      cpuUs: median(rs.map((x) => x.cpuUs)),
      foreign: max(rs.map((x) => x.foreign)),
    };
  });
}

// ---------------------------------------------------------------- 2. idle subscribers

interface MemSample {
  rss: number;
  heapUsed: number;
  subscriptions: number;
}

interface IdleResult {
  shape: string;
  subscribers: number;
  connections: number;
  openSeconds: number;
  before: MemSample;
  after: MemSample;
  rssPerSub: number;
  heapPerSub: number;
  redisPerSub: number;
  /** (1 GiB − the idle process's RSS) ÷ RSS per subscriber. */
  perGiB: number;
}

function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

async function metrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(parley_[a-z_]+) ([0-9.e+-]+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** The median of 3 samples, 0.5 s apart. */
async function memSample(svc: ServiceProc & { metricsPort: number }): Promise<MemSample> {
  const xs: MemSample[] = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(500);
    const m = await metrics(svc.metricsPort);
    const heap = m.parley_nodejs_heap_size_used_bytes;
    if (heap === undefined) throw new Error('the service\'s /metrics has no parley_nodejs_heap_size_used_bytes');
    xs.push({ rss: rssOf(svc.proc.child.pid!), heapUsed: heap, subscriptions: m.parley_feed_subscriptions ?? NaN });
  }
  return { rss: median(xs.map((x) => x.rss)), heapUsed: median(xs.map((x) => x.heapUsed)), subscriptions: median(xs.map((x) => x.subscriptions)) };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

/** Opens subscriber i on threadIds[i]; resolves once all are live (READY). */
async function openIdle(s: Stack, svc: ServiceProc, threadIds: string[]): Promise<{ load: Tracked; ready: IdleReady }> {
  const spec: IdleSpec = { mode: 'idle', port: svc.grpcPort, token: s.token, threadIds, streamsPerConnection: STREAMS_PER_CONNECTION };
  const load = spawnLoad(s, spec);
  await waitUntil(`${threadIds.length} idle subscriptions`, load, async () => line(load, 'READY') !== undefined, 300_000);
  return { load, ready: JSON.parse(line(load, 'READY')!) as IdleReady };
}

async function measureIdle(s: Stack, shape: string, threadIds: string[]): Promise<IdleResult> {
  const svc = await startFeedService(s, `service (idle, ${shape})`);
  try {
    // Warm the paths first (JIT, pools): 100 subscriptions opened and closed.
    const warm = await openIdle(s, svc, threadIds.slice(0, 100));
    await stop(warm.load);
    await waitUntil('the warm-up subscriptions to close', svc.proc, async () => (await metrics(svc.metricsPort)).parley_feed_subscriptions === 0);
    await sleep(2000);
    const redisBefore = await usedMemory(s.redis.redis);
    const before = await memSample(svc);
    const { load, ready } = await openIdle(s, svc, threadIds);
    // Idle for a while: what stays is what a subscriber holds.
    await sleep(3000);
    const after = await memSample(svc);
    const redisAfter = await usedMemory(s.redis.redis);
    if (after.subscriptions !== threadIds.length) throw new Error(`idle ${shape}: the service counts ${after.subscriptions} subscriptions, not ${threadIds.length}`);
    await stop(load);
    const n = threadIds.length;
    const rssPerSub = (after.rss - before.rss) / n;
    return {
      shape,
      subscribers: n,
      connections: ready.connections,
      openSeconds: ready.openSeconds,
      before,
      after,
      rssPerSub,
      heapPerSub: (after.heapUsed - before.heapUsed) / n,
      redisPerSub: (redisAfter - redisBefore) / n,
      perGiB: Math.floor((2 ** 30 - before.rss) / rssPerSub),
    };
  } finally {
    await stop(svc.proc);
  }
}

// ---------------------------------------------------------------- 3. resume

interface ResumeResult {
  events: number;
  threadMessages: number;
  /** Subscribe after the cursor → `live`, ms, per measured run. */
  liveMs: number[];
  /** → the first replayed event, ms. */
  firstMs: number[];
  listMs: number[];
  foreign: number;
}

/** Subscribe `after` the cursor: ms to the first event and to `live`, and the events before it. */
function resumeOnce(rpc: Rpc, token: string, threadId: string, after: string): Promise<{ liveMs: number; firstMs: number; seqs: number[] }> {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    let firstMs = NaN;
    const seqs: number[] = [];
    let done = false;
    const call = rpc.client.makeServerStreamRequest(T.subscribe.path, T.subscribe.requestSerialize, T.subscribe.responseDeserialize, { threadIds: [threadId], after: [after] }, md, {});
    call.on('data', (e: Event) => {
      if (done) return;
      if (e.type === 'live') {
        done = true;
        const liveMs = performance.now() - t0;
        call.cancel();
        resolvePromise({ liveMs, firstMs, seqs });
        return;
      }
      if (Number.isNaN(firstMs)) firstMs = performance.now() - t0;
      seqs.push(Number(e.message?.seq ?? 0));
    });
    call.on('error', (err: ServiceError) => {
      if (!done) reject(err);
    });
  });
}

async function measureResume(s: Stack, svc: ServiceProc, rpc: Rpc): Promise<ResumeResult> {
  const [threadId] = await createThreads(rpc, 1, 'feed resume');
  await post(rpc, threadId, RESUME_EVENTS);
  const list = (limit: number) => rpc.call(T.listMessages, { threadId, limit: String(limit), offset: '0', order: '', after: '', before: '', includeDeleted: '' });
  const after = (await list(1)).reply.feedCursor;
  await post(rpc, threadId, RESUME_EVENTS);
  const pids = { redis: s.redis.proc.child.pid!, service: svc.proc.child.pid! };
  const rounds = async () => {
    const liveMs: number[] = [];
    const firstMs: number[] = [];
    const listMs: number[] = [];
    // Round 0 warms both paths and is not counted; then the two take turns.
    for (let round = 0; round <= RESUME_RUNS; round++) {
      const r = await resumeOnce(rpc, s.token, threadId, after);
      const want = Array.from({ length: RESUME_EVENTS }, (_, i) => RESUME_EVENTS + 1 + i);
      if (r.seqs.length !== RESUME_EVENTS || r.seqs.some((x, i) => x !== want[i])) {
        throw new Error(`resume: ${r.seqs.length} events before live, seqs ${r.seqs.slice(0, 3).join(',')}…${r.seqs.slice(-3).join(',')}; expected ${want[0]} … ${want[want.length - 1]}`);
      }
      const t0 = performance.now();
      const page = await list(RESUME_EVENTS);
      const ms = performance.now() - t0;
      if (page.reply.messages.length !== RESUME_EVENTS) throw new Error(`ListMessages limit ${RESUME_EVENTS}: ${page.reply.messages.length} messages`);
      if (round === 0) continue;
      liveMs.push(r.liveMs);
      firstMs.push(r.firstMs);
      listMs.push(ms);
    }
    return { liveMs, firstMs, listMs };
  };
  const { result, foreign } = await runQuiet(pids, rounds, {
    maxForeign: MAX_FOREIGN,
    budget: retryBudget,
    costSeconds: 3,
    onDisturbed: (f, again) => log(`  (resume: other processes used ${f.toFixed(2)} CPUs meanwhile${again ? '; running it again' : ''})`),
  });
  return { events: RESUME_EVENTS, threadMessages: 2 * RESUME_EVENTS, ...result, foreign };
}

// ---------------------------------------------------------------- report

export interface FeedResults {
  machine: string;
  settings: { RUNS: number; SECONDS: number; WARMUP: number; IDLE: number; RESUME_RUNS: number; RATE: number };
  latency?: LatencyRow[];
  idle: IdleResult[];
  resume?: ResumeResult;
  elapsedS: number;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const range = (xs: number[]) => `${fmtMs(median(xs))} [${fmtMs(min(xs))}–${fmtMs(max(xs))}]`;

function report(f: FeedResults): string {
  const out: string[] = [];
  const verdicts: string[] = [];
  const foreign: number[] = [];
  const disturbed = (x: number) => (x > MAX_FOREIGN ? ' †' : '');
  out.push('### Live feed', '', `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${f.machine}. ${(f.elapsedS / 60).toFixed(1)} min in all.`);
  if (f.latency) {
    out.push(
      '',
      `Publish → deliver: ${RATE.toLocaleString('en')} messages/s (open loop, one every ms, spread over ${THREADS} threads), ${THREADS * SUBS_PER_THREAD} subscribers ` +
        `(${SUBS_PER_THREAD} per thread), ${PROCESSES === 1 ? 'publisher and subscribers in one load process' : 'a publisher process and a subscribers process'}, ` +
        `${RUNS} run(s) of ${SECONDS} s per target after ${WARMUP} s of warm-up, targets interleaved; ` +
        'latency = arrival − send of every event at every subscriber, ms: median over the runs, and p99 [min–max].',
      '',
      `| target | p50 ms | p99 ms | p99.9 ms | deliveries per run | publisher late p99 ms | server CPU µs/msg | ${PROCESSES === 1 ? 'load process CPU µs/msg' : 'load CPU µs/msg: publisher + subscribers'} |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of f.latency) {
      const m = (k: keyof LatencyRun) => median(r.runs.map((x) => x[k] as number));
      out.push(
        `| ${r.mode === 'service' && !r.alt ? `**${r.label}**` : r.label} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} [${fmtMs(r.p99Min)}–${fmtMs(r.p99Max)}] | ${fmtMs(r.p999)} | ` +
          `${m('samples').toLocaleString('en')} | ${fmtMs(m('lateP99Ms'))} | ${r.cpuUs.toFixed(0)}${disturbed(r.foreign)} | ${PROCESSES === 1 ? m('loadCpuUs').toFixed(0) : `${m('publisherCpuUs').toFixed(0)} + ${m('subscribersCpuUs').toFixed(0)}`} |`,
      );
      foreign.push(r.foreign);
    }
    const ev = f.latency.map((r) => `${r.alt ? 'alt build' : r.mode} ${median(r.runs.map((x) => x.eventBytes))} B`).join(', ');
    out.push(
      '',
      `Every event of every measured message reached every subscriber of its thread once, in order (checked in each run). Event sizes as received: ${ev}. ` +
        `Server CPU: service + redis for the service, redis for the floors; load CPU per message sent over each load process's whole life (start, subscribing and warm-up included). The service's clients: ${CLIENT === 'http2' ? 'gRPC on node:http2' : '@grpc/grpc-js'}.`,
    );
    const svc = f.latency.find((r) => r.mode === 'service' && !r.alt);
    for (const fl of f.latency.filter((r) => r.mode !== 'service')) {
      if (!svc) break; // BENCH_FEED_TARGETS without the service: no target to check
      const ratio = svc.p99 / fl.p99;
      verdicts.push(`| live feed p99 ≤ ${P99_FACTOR} × ${fl.label} | ${fmtMs(svc.p99)} ms / ${fmtMs(fl.p99)} ms = ${ratio.toFixed(2)} | ${ratio <= P99_FACTOR ? 'yes' : '**no**'} |`);
    }
  }
  if (f.idle.length) {
    out.push(
      '',
      'Idle subscribers (a fresh service process per shape; RSS from /proc, heap used from the service\'s /metrics, Redis used_memory; medians of 3 samples):',
      '',
      '| shape | subscribers (connections) | RSS before → after | per subscriber: RSS | heap used | Redis | subscribers per GiB of RSS |',
      '| --- | ---: | --- | ---: | ---: | ---: | ---: |',
    );
    for (const x of f.idle) {
      out.push(
        `| ${x.shape} | ${x.subscribers.toLocaleString('en')} (${x.connections}) | ${mib(x.before.rss)} → ${mib(x.after.rss)} | ${kib(x.rssPerSub)} | ${kib(x.heapPerSub)} | ${x.redisPerSub.toFixed(0)} B | ${x.perGiB.toLocaleString('en')} |`,
      );
    }
    const worst = f.idle.reduce((a, b) => (b.perGiB < a.perGiB ? b : a));
    verdicts.push(`| idle subscribers one instance holds in 1 GiB of RSS (the worse shape: ${worst.shape}) | ${worst.perGiB.toLocaleString('en')} (${kib(worst.rssPerSub)} each) | (no target) |`);
  }
  const rz = f.resume;
  if (rz) {
    out.push(
      '',
      `Resume: a thread of ${rz.threadMessages.toLocaleString('en')} messages, Subscribe \`after\` its ListMessages feed_cursor taken ${rz.events.toLocaleString('en')} messages back ` +
        `(${rz.liveMs.length} runs after one thrown away; ms, median [min–max]): first replayed event ${range(rz.firstMs)}, \`live\` after the ${rz.events.toLocaleString('en')} events ${range(rz.liveMs)}; ` +
        `ListMessages limit ${rz.events.toLocaleString('en')} of the same thread ${range(rz.listMs)}${disturbed(rz.foreign)}.`,
    );
    foreign.push(rz.foreign);
    verdicts.push(
      `| resume: ${rz.events.toLocaleString('en')} events replayed until live, against ListMessages of ${rz.events.toLocaleString('en')} | ${fmtMs(median(rz.liveMs))} ms / ${fmtMs(median(rz.listMs))} ms = ${(median(rz.liveMs) / median(rz.listMs)).toFixed(2)} | (no target) |`,
    );
  }
  out.push('', '| target | measured | met |', '| --- | --- | --- |', ...verdicts);
  if (foreign.some((x) => x > MAX_FOREIGN)) {
    out.push('', `† other processes on the machine used more than ${MAX_FOREIGN} CPUs during it (the latency runs: even after running them again, within the retry budget).`);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  installCleanup();
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-feed-'));
  const token = randomBytes(24).toString('base64url');
  let redis: RedisProc | undefined;
  try {
    log(`starting redis-server and the service (${RUNS} × ${SECONDS} s per latency target, ${WARMUP} s warm-up; ${IDLE} idle subscribers)`);
    if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
    redis = await startRedis(dir);
    const s: Stack = { dir, token, redis };
    const redisVersion = /redis_version:(\S+)/.exec(await redis.redis.info('server'))?.[1] ?? '?';
    const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, Redis ${redisVersion}, Linux ${release()}`;

    const svc = await startFeedService(s, 'service');
    const rpc = new Rpc(svc.grpcPort, token);
    await rpc.ready();
    let latency: LatencyRow[] | undefined;
    if (CASES.has('latency')) {
      log(`latency: ${RATE}/s over ${THREADS} threads, ${THREADS * SUBS_PER_THREAD} subscribers`);
      let alt: ServiceProc | undefined;
      if (ALT_SERVICE) {
        alt = await startService('service (alt build)', {
          main: ALT_SERVICE,
          redisUrl: redis.url,
          apiKeys: `${NS}:${token}`,
          dataDir: join(dir, 'service-alt'),
          nodeArgs: nodeArgs('feed-service-alt'),
        });
        await serviceReady(alt);
      }
      latency = await measureLatency(s, { main: svc, alt }, rpc);
      if (alt) await stop(alt.proc);
    }
    let resume: ResumeResult | undefined;
    if (CASES.has('resume')) {
      log(`resume: ${RESUME_EVENTS} events`);
      resume = await measureResume(s, svc, rpc);
      log(`  live after ${fmtMs(median(resume.liveMs))} ms; ListMessages ${fmtMs(median(resume.listMs))} ms`);
    }
    const idle: IdleResult[] = [];
    if (CASES.has('idle')) {
      // The idle shapes' threads, made while this service runs; then each shape on a fresh service.
      const own = await createThreads(rpc, IDLE, 'feed idle');
      const [one] = await createThreads(rpc, 1, 'feed idle shared');
      rpc.close();
      await stop(svc.proc);
      for (const [shape, ids] of [
        ['one thread each', own],
        ['all on one thread', own.map(() => one)],
      ] as const) {
        log(`idle: ${IDLE} subscribers, ${shape}`);
        const x = await measureIdle(s, shape, ids);
        idle.push(x);
        log(`  RSS ${mib(x.before.rss)} → ${mib(x.after.rss)}: ${kib(x.rssPerSub)} per subscriber (heap ${kib(x.heapPerSub)}), ${x.perGiB.toLocaleString('en')} per GiB; opened in ${x.openSeconds.toFixed(1)} s`);
      }
    }
    rpc.close();
    const results: FeedResults = {
      machine,
      settings: { RUNS, SECONDS, WARMUP, IDLE, RESUME_RUNS, RATE },
      latency,
      idle,
      resume,
      elapsedS: (Date.now() - started) / 1000,
    };
    const text = report(results);
    process.stdout.write('\n' + text);
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'feed-last-run.md'), text);
    writeFileSync(join(OUT, 'feed-last-run.json'), JSON.stringify(results, null, 2));
    log(`written to ${join(OUT, 'feed-last-run.md')} and feed-last-run.json`);
  } finally {
    redis?.redis.disconnect();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench feed failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void stopAll().finally(() => process.exit(1));
  },
);
