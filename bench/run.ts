/**
 * `make bench`: the service and the gateway measured beside the floors of the
 * parts under them, in one run on this machine (bench/README.md).
 *
 * Starts on 127.0.0.1: a fresh redis-server with the service's persistence,
 * the service (dist/src/main.js: gRPC and its own JSON-over-HTTP port in one
 * process, as `make start` runs it), the remote gateway (dist/gateway/main.js,
 * HTTP → gRPC → the service), and the floors (bench/servers). Drives load with
 * h2load (gRPC) and wrk (HTTP), interleaving each case's targets run by run,
 * and prints the table. Every process it starts is stopped by its PID at the
 * end, also on failure.
 *
 * Env: BENCH_QUICK=1 (smoke run: 1 run of 1 s), BENCH_SECONDS, BENCH_RUNS,
 * BENCH_WARMUP_SECONDS, BENCH_ONLY (regex over case names, e.g. "gRPC Create"),
 * BENCH_SKIP_MEMORY=1, BENCH_SKIP_DELETE=1, BENCH_DELETE_MESSAGES (1,000,000),
 * BENCH_CURSOR_MESSAGES (1,000,000: the thread the deep-cursor case pages),
 * BENCH_CPU_PROF=<dir> (service and gateway write V8 CPU profiles there),
 * BENCH_OUT=<dir> (where the table and JSON results go; dist/bench by default),
 * BENCH_ALT_SERVICE=<path to another build's dist/src/main.js>: a second service
 * on the same Redis, measured as one more target of every gRPC case (A/B of a change).
 * Edits and deletes (issue 15): cases "gRPC UpdateMessage", "gRPC DeleteMessage" (driven by
 * vary-load.js: a different message per call) and "gRPC ListMessages half deleted";
 * BENCH_UPDATE_MESSAGES (100,000), BENCH_DELETE_MESSAGE_MESSAGES (300,000),
 * BENCH_HALF_DELETED_MESSAGES (100,000) size their threads.
 * Inboxes and read state (issue 16): "gRPC ListChats 1000" (a user's 1,000 chats made through the
 * API, page of 25, against one script of the same reads), "gRPC MarkRead" (vary-load.js: a fresh
 * user per call) and "gRPC ReadThread unread", each on threads of 1,000,000 and 1,000 messages
 * against the storage floor; BENCH_INBOX_CHATS (1,000), BENCH_READ_MESSAGES (1,000,000),
 * BENCH_READERS (250,000 fresh user ids per MarkRead target).
 *
 * Then the live feed (case name "live feed"): feed.ts, a script of its own with its
 * own Redis and service, run as a child process once the processes above are stopped;
 * its report is appended. BENCH_ONLY=feed runs only it.
 * Last, fairness (case name "fairness"): fairness.ts, likewise: one namespace's flood of
 * 4 MiB pages against another's ReadThread. BENCH_ONLY=fairness runs only it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, availableParallelism, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { ChatsService, type ListChatsRequest } from '../test/gen/chats/chats';
import {
  ThreadsService,
  type CreateMessageRequest,
  type ListMessagesRequest,
  type ListMessagesResponse,
  type ReadThreadRequest,
  type RecentMessagesRequest,
} from '../test/gen/threads/threads';
import { processMicros, runQuiet, type RetryBudget } from './lib/cpu';
import { deleteEvenSeqs, fillThread, threadKeys } from './lib/fill';
import { cleanupLoadFiles, grpcFrame, h2load, wrk, type RunResult } from './lib/load';
import { freePort, httpStatus, installCleanup, runTool, spawnTracked, stop, stopAll, tcpOpen, waitUntil, type Tracked } from './lib/procs';
import type { VaryLoadResult, VaryLoadSpec } from './vary-load';
import { envNumber } from './lib/settings';
import { startRedis, startService } from './lib/stack';
import { postJson, Rpc, type MethodDef } from './lib/rpc';
import { AUTHOR, CHAT_USERS, LIST_LIMIT, METHODS, PATHS, RECENT_PER_THREAD, RECENT_THREADS, TEXT, jsonBodies, type Fixture, type Method } from './lib/shapes';
import { fmtMs, fmtRate, fmtRatio, max, median, min } from './lib/stats';

const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');

const num = envNumber;
const QUICK = process.env.BENCH_QUICK === '1';
const SECONDS = num('BENCH_SECONDS', QUICK ? 1 : 3);
const WARMUP = num('BENCH_WARMUP_SECONDS', QUICK ? 0.5 : 1);
const RUNS = num('BENCH_RUNS', QUICK ? 1 : 3);
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
/** Whether BENCH_ONLY lets a case run: the regex is matched against "<case> <in flight>". */
const wanted = (name: string, inFlight: number) => !ONLY || ONLY.test(`${name} ${inFlight}`);
const MEMORY_MESSAGES = 100_000;
const BIG = num('BENCH_DELETE_MESSAGES', 1_000_000);
const DELETE_ROUNDS = QUICK ? 1 : 3;
/** The thread of the deep-cursor case: a page after a cursor this deep should cost what the first page costs. */
const CURSOR_MESSAGES = num('BENCH_CURSOR_MESSAGES', 1_000_000);
/**
 * The offset of that case's contrast: the deepest the service allows (its MAX_OFFSET, 100,000 by default;
 * the service inherits the runner's environment, so a MAX_OFFSET set here is its limit too).
 */
const DEEP_OFFSET = num('MAX_OFFSET', 100_000);
const CURSOR_CASE = 'gRPC ListMessages deep cursor';
/** Edits and deletes (issue 15): UpdateMessage round-robin over the messages of a thread of this many. */
const UPDATE_MESSAGES = num('BENCH_UPDATE_MESSAGES', 100_000);
/** DeleteMessage deletes distinct messages: the service's thread and the floor's hold this many each. */
const DELETE_MESSAGES = num('BENCH_DELETE_MESSAGE_MESSAGES', 300_000);
/** ListMessages of 25 in a thread of this many, every second one deleted, against one with none deleted. */
const HALF_MESSAGES = num('BENCH_HALF_DELETED_MESSAGES', 100_000);
const LIFECYCLE_METHODS = ['UpdateMessage', 'DeleteMessage'] as const;
/** Issue 16's methods (their cases' `method`). */
type InboxMethod = 'ListChats' | 'MarkRead' | 'ReadThread';
type LifecycleMethod = (typeof LIFECYCLE_METHODS)[number];
const HALF_CASE = 'gRPC ListMessages half deleted';
const HALF_IN_FLIGHT = 64;
/** The text UpdateMessage writes: 100 bytes, not the text the messages were filled with. */
const EDITED_TEXT = TEXT.replace('quick', 'QUICK');
const CURSOR_IN_FLIGHT = 64;
/** A richer thread (issue 17): ListThreads by participant in a group of this many threads, the participant in FILTER_MEMBER_OF of them. */
const FILTER_THREADS = num('BENCH_FILTER_THREADS', 100_000);
const FILTER_MEMBER_OF = num('BENCH_FILTER_MEMBER_OF', 100);
const FILTER_CASE = 'gRPC ListThreads participant filter';
const FILTER_IN_FLIGHT = 64;
const FILTER_GROUP = 'bench-filter';
const FILTER_MEMBER = 'bench-member';
/** A run during which other processes used more CPU than this (in cores) is run again, twice at most. */
const MAX_FOREIGN = num('BENCH_MAX_FOREIGN_CORES', 0.15);
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const OUT = resolve(process.env.BENCH_OUT ?? join(DIST, 'bench'));
const ALT_SERVICE = process.env.BENCH_ALT_SERVICE ? resolve(process.env.BENCH_ALT_SERVICE) : undefined;
const NS = 'default';
/** 64 in flight: 4 HTTP/2 connections × 16 streams for gRPC; 64 connections for wrk. */
const H2_CLIENTS = 4;

const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes

interface Env {
  dir: string;
  token: string;
  redisPort: number;
  redis: Redis;
  grpcPort: number;
  /** The service process's own HTTP port (in-process JSON transport). */
  serviceHttpPort: number;
  /** The remote gateway process's HTTP port. */
  gatewayPort: number;
  bareFixedPort: number;
  bareStoragePort: number;
  expressFixedPort: number;
  expressStoragePort: number;
  expressHopPort: number;
  altPort?: number;
  procs: Record<string, Tracked>;
}

function need(cmd: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${cmd} is missing: apt-get install -y ${pkg}`);
  }
}

function nodeArgs(name: string): string[] {
  return CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, '--cpu-prof-name', `${name}.${Date.now()}.cpuprofile`] : [];
}

async function startAll(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const token = randomBytes(24).toString('base64url');
  const procs: Record<string, Tracked> = {};

  // Redis, with the persistence the service gives its embedded one (src/store/embedded.ts).
  const r = await startRedis(dir);
  procs.redis = r.proc;
  const { port: redisPort, redis, url: redisUrl } = r;
  const base = { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1' };

  // The service serves gRPC and JSON over HTTP from one process (what `make start` runs), on free ports.
  const svc = await startService('service', {
    main: join(DIST, 'src', 'main.js'),
    nodeArgs: nodeArgs('service'),
    redisUrl,
    apiKeys: `${NS}:${token}`,
    dataDir: join(dir, 'service'),
  });
  procs.service = svc.proc;
  const { grpcPort, httpPort: serviceHttpPort } = svc;
  let altPort: number | undefined;
  if (ALT_SERVICE) {
    altPort = await freePort();
    procs.alt = spawnTracked('service (alt)', process.execPath, [...nodeArgs('service-alt'), ALT_SERVICE], {
      // HTTP_PORT 0: a free port for its JSON transport (older builds ignore it); only its gRPC is measured.
      env: { ...base, GRPC_PORT: String(altPort), HTTP_PORT: '0', METRICS_PORT: '0', REDIS_URL: redisUrl, API_KEYS: `${NS}:${token}`, DATA_DIR: join(dir, 'service-alt') },
    });
  }
  // The remote gateway: its own process, HTTP → gRPC → the service.
  const gatewayPort = await freePort();
  procs.gateway = spawnTracked('gateway', process.execPath, [...nodeArgs('gateway'), join(DIST, 'gateway', 'main.js')], {
    env: { ...base, HTTP_PORT: String(gatewayPort), GATEWAY_METRICS_PORT: '0', GRPC_TARGET: `127.0.0.1:${grpcPort}` },
  });
  const bare = (mode: string, port: number) =>
    spawnTracked(`bare gRPC (${mode})`, process.execPath, [...nodeArgs(`bare-grpc-${mode}`), join(DIST, 'bench', 'servers', 'bare-grpc.js')], {
      env: { ...base, PORT: String(port), BENCH_MODE: mode, REDIS_URL: redisUrl, BENCH_NS: NS },
    });
  const bareFixedPort = await freePort();
  procs.bareFixed = bare('fixed', bareFixedPort);
  const bareStoragePort = await freePort();
  procs.bareStorage = bare('storage', bareStoragePort);
  const express = (mode: string, port: number) =>
    spawnTracked(`bare Express (${mode})`, process.execPath, [...nodeArgs(`express-${mode}`), join(DIST, 'bench', 'servers', 'bare-express.js')], {
      env: { ...base, PORT: String(port), BENCH_MODE: mode, GRPC_TARGET: `127.0.0.1:${bareStoragePort}`, REDIS_URL: redisUrl, BENCH_NS: NS },
    });
  const expressFixedPort = await freePort();
  procs.expressFixed = express('fixed', expressFixedPort);
  // The in-process JSON floor: Express, one EVALSHA, JSON out, one process.
  const expressStoragePort = await freePort();
  procs.expressStorage = express('storage', expressStoragePort);
  // The hop floor (gateway floor): Express → grpc-js → the bare storage floor.
  const expressHopPort = await freePort();
  procs.expressHop = express('hop', expressHopPort);

  for (const [p, port] of [
    [procs.service, grpcPort],
    [procs.bareFixed, bareFixedPort],
    [procs.bareStorage, bareStoragePort],
    [procs.expressFixed, expressFixedPort],
    [procs.expressStorage, expressStoragePort],
    [procs.expressHop, expressHopPort],
    ...(procs.alt && altPort ? [[procs.alt, altPort] as const] : []),
  ] as const) {
    await waitUntil(`${p.name} on port ${port}`, p, () => tcpOpen(port));
  }
  await waitUntil(`service /healthz on HTTP port ${serviceHttpPort}`, procs.service, async () => (await httpStatus(serviceHttpPort, '/healthz')) === 200);
  await waitUntil('gateway /healthz', procs.gateway, async () => (await httpStatus(gatewayPort, '/healthz')) === 200);
  for (const p of Object.values(procs)) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${p.name} exited at start:\n${p.output()}`);
  }
  return {
    dir,
    token,
    redisPort,
    redis,
    grpcPort,
    serviceHttpPort,
    gatewayPort,
    bareFixedPort,
    bareStoragePort,
    expressFixedPort,
    expressStoragePort,
    expressHopPort,
    altPort,
    procs,
  };
}

// ---------------------------------------------------------------- setup

const threadDef = ThreadsService;

async function createThread(rpc: Rpc, topic: string): Promise<string> {
  const { reply } = await rpc.call(threadDef.createThread, { createdBy: '', parentThreadId: '', parentMessageId: '', participants: [], groupId: 'bench', topic, metadata: {} });
  return reply.thread!.id;
}

async function postMessages(rpc: Rpc, threadId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, () => rpc.call(threadDef.createMessage, { id: '', threadId, authorId: AUTHOR, text: TEXT, metadata: {} })),
    );
  }
}

function grpcRequests(f: Fixture): Record<Method, { def: MethodDef<never, unknown>; req: unknown; body: Buffer }> {
  const create: CreateMessageRequest = { id: '', threadId: f.createThreadId, authorId: AUTHOR, text: TEXT, metadata: {} };
  const list: ListMessagesRequest = { threadId: f.listThreadId, limit: String(LIST_LIMIT), offset: '0', order: '', after: '', before: '', includeDeleted: '' };
  const recent: RecentMessagesRequest = { threadIds: f.recentThreadIds, limitPerThread: String(RECENT_PER_THREAD), groupId: '', includeDeleted: '' };
  const chat = { userIds: CHAT_USERS, id: '', metadata: {} };
  const one = <Req, Res>(def: MethodDef<Req, Res>, req: Req) => ({ def: def as unknown as MethodDef<never, unknown>, req, body: grpcFrame(def.requestSerialize(req)) });
  return {
    CreateMessage: one(threadDef.createMessage, create),
    ListMessages: one(threadDef.listMessages, list),
    RecentMessages: one(threadDef.recentMessages, recent),
    CreateChat: one(ChatsService.createChat, chat),
  };
}

/** What a good answer of each method holds. */
function checkReply(method: Method, reply: unknown, where: string): void {
  const fail = (why: string) => {
    throw new Error(`${where} ${method}: ${why}: ${JSON.stringify(reply).slice(0, 300)}`);
  };
  const r = reply as Record<string, unknown>;
  switch (method) {
    case 'CreateMessage': {
      const m = r.message as Record<string, unknown> | undefined;
      if (!m || m.text !== TEXT) fail('no message with the text sent');
      break;
    }
    case 'ListMessages':
      if (!Array.isArray(r.messages) || r.messages.length !== LIST_LIMIT) fail(`not ${LIST_LIMIT} messages`);
      break;
    case 'RecentMessages':
      if (!Array.isArray(r.messages) || r.messages.length !== RECENT_THREADS * RECENT_PER_THREAD) fail(`not ${RECENT_THREADS * RECENT_PER_THREAD} messages`);
      break;
    case 'CreateChat': {
      const c = r.chat as Record<string, unknown> | undefined;
      const users = (c?.userIds ?? c?.user_ids) as unknown;
      if (!c || !Array.isArray(users) || users.length !== CHAT_USERS.length) fail('no chat of the users sent');
      break;
    }
  }
}

// ---------------------------------------------------------------- cases

interface Target {
  label: string;
  /**
   * service: what is measured; transport/storage: the gRPC floors; express: bare Express, fixed JSON;
   * json: the in-process JSON floor (Express, one EVALSHA); hop: the hop floor (Express → grpc-js → storage floor).
   * Deep-cursor case: service is the page after the deep cursor; firstPage the newest page, no cursor;
   * offset the page at the deepest offset allowed.
   */
  role: 'service' | 'transport' | 'storage' | 'express' | 'json' | 'hop' | 'alt' | 'firstPage' | 'offset' | 'noneDeleted' | 'small' | 'smallStorage' | 'unfiltered';
  /** The processes that serve it (keys of Env.procs), whose CPU time is counted per request. */
  procs: string[];
  run(seconds: number): Promise<RunResult>;
}

interface Measured extends RunResult {
  /** vary-load runs: the load process's own CPU per call, µs. */
  loadCpuUs?: number;
  /** CPU of the target's server processes per request, µs. */
  cpuUs: number;
  /** Cores' worth of CPU other processes on the machine used during the run. */
  foreign: number;
}

interface Case {
  name: string;
  method: Method | LifecycleMethod | InboxMethod | 'ListThreads';
  /** gRPC: the service's gRPC port; http: the service's own HTTP port; gateway: the remote gateway process. */
  via: 'gRPC' | 'http' | 'gateway';
  inFlight: number;
  targets: Target[];
  /** The deep-cursor case: its thread and where its pages are. */
  deep?: DeepCursor;
}

interface TargetResult {
  label: string;
  role: Target['role'];
  runs: Measured[];
  cpuUs: number;
  /** the most other processes used during a counted run */
  foreign: number;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  p50: number;
  p99: number;
  /** vary-load runs: the load process's CPU per call, µs (median). */
  loadCpuUs?: number;
}

interface CaseResult {
  name: string;
  method: Method | LifecycleMethod | InboxMethod | 'ListThreads';
  via: Case['via'];
  inFlight: number;
  targets: TargetResult[];
  deep?: DeepCursor;
}

async function buildCases(env: Env, f: Fixture): Promise<Case[]> {
  const reqs = grpcRequests(f);
  const bodies = jsonBodies(f);
  const cases: Case[] = [];
  const storedCount = async () => Number((await env.redis.hget(threadKeys(NS, f.createThreadId).meta, 'n')) ?? 0);

  // Writes are checked against the store: the thread's count moves by what the load generator counted,
  // plus at most the calls left in flight when a run stops: this run's, and the previous run's (or
  // warm-up's) that had not landed yet when `before` was read.
  const counted = (inFlight: number, run: (s: number) => Promise<RunResult>) => async (s: number) => {
    const before = await storedCount();
    const r = await run(s);
    const moved = (await storedCount()) - before;
    if (moved < r.requests - inFlight || moved > r.requests + 2 * inFlight) {
      throw new Error(`CreateMessage: the load generator counted ${r.requests} answers but the thread grew by ${moved}`);
    }
    return r;
  };

  for (const method of METHODS) {
    const { def, req, body } = reqs[method];
    // One probe per gRPC target: a good answer, and its size (h2load's DATA-bytes check).
    const probe = async (port: number, label: string) => {
      const p = new Rpc(port, env.token);
      try {
        const { reply, bytes } = await p.call(def, req as never).catch((e: Error) => {
          throw new Error(`${label} ${method}: ${e.message}`);
        });
        checkReply(method, reply, label);
        return 5 + Math.floor(bytes * 0.9);
      } finally {
        p.close();
      }
    };
    const grpcTargets = async (inFlight: number): Promise<Target[]> => {
      const h2 = (port: number, minDataBytes: number) => (seconds: number) =>
        h2load({ port, path: PATHS[method].grpc, body, token: env.token, minDataBytes }, { seconds, inFlight, clients: H2_CLIENTS });
      const svc = h2(env.grpcPort, await probe(env.grpcPort, 'service'));
      return [
        { label: 'service', role: 'service', procs: ['service', 'redis'], run: method === 'CreateMessage' ? counted(inFlight, svc) : svc },
        {
          label: 'transport floor: bare grpc-js, fixed reply',
          role: 'transport',
          procs: ['bareFixed'],
          run: h2(env.bareFixedPort, await probe(env.bareFixedPort, 'bare fixed')),
        },
        {
          label: 'storage floor: bare grpc-js, one EVALSHA',
          role: 'storage',
          procs: ['bareStorage', 'redis'],
          run: h2(env.bareStoragePort, await probe(env.bareStoragePort, 'bare storage')),
        },
        ...(env.altPort
          ? [
              {
                label: `service (alt: ${ALT_SERVICE})`,
                role: 'alt' as const,
                procs: ['alt', 'redis'],
                run: h2(env.altPort, await probe(env.altPort, 'alt service')),
              },
            ]
          : []),
      ];
    };
    const httpProbe = async (port: number, label: string) => {
      const r = await postJson(port, PATHS[method].http, bodies[method], env.token);
      if (r.status !== 200) throw new Error(`${label} ${method}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
      checkReply(method, r.json, label);
    };
    const w = (inFlight: number, port: number) => (seconds: number) =>
      wrk({ port, path: PATHS[method].http, body: bodies[method], token: env.token }, { seconds, inFlight });
    // The service's own HTTP port: JSON straight into the operation table, no gRPC (what `make start` serves).
    const inProcessTargets = async (inFlight: number): Promise<Target[]> => {
      await httpProbe(env.serviceHttpPort, 'service HTTP');
      await httpProbe(env.expressFixedPort, 'bare Express');
      await httpProbe(env.expressStoragePort, 'in-process JSON floor');
      const svc = w(inFlight, env.serviceHttpPort);
      return [
        { label: 'service, own HTTP port (in-process)', role: 'service', procs: ['service', 'redis'], run: method === 'CreateMessage' ? counted(inFlight, svc) : svc },
        { label: 'bare Express, fixed JSON', role: 'express', procs: ['expressFixed'], run: w(inFlight, env.expressFixedPort) },
        { label: 'in-process JSON floor: Express, one EVALSHA', role: 'json', procs: ['expressStorage', 'redis'], run: w(inFlight, env.expressStoragePort) },
      ];
    };
    // The remote gateway process: HTTP → gRPC → the service.
    const gatewayTargets = async (inFlight: number): Promise<Target[]> => {
      await httpProbe(env.gatewayPort, 'gateway');
      await httpProbe(env.expressFixedPort, 'bare Express');
      await httpProbe(env.expressHopPort, 'Express hop');
      const svc = w(inFlight, env.gatewayPort);
      return [
        { label: 'remote gateway → service', role: 'service', procs: ['gateway', 'service', 'redis'], run: method === 'CreateMessage' ? counted(inFlight, svc) : svc },
        { label: 'bare Express, fixed JSON', role: 'express', procs: ['expressFixed'], run: w(inFlight, env.expressFixedPort) },
        { label: 'hop floor (gateway floor): Express → grpc-js → bare storage floor', role: 'hop', procs: ['expressHop', 'bareStorage', 'redis'], run: w(inFlight, env.expressHopPort) },
      ];
    };
    for (const inFlight of [1, 64]) {
      const name = `gRPC ${method}`;
      if (wanted(name, inFlight)) cases.push({ name, method, via: 'gRPC', inFlight, targets: await grpcTargets(inFlight) });
    }
    for (const inFlight of [1, 64]) {
      const name = `in-process JSON ${method}`;
      if (wanted(name, inFlight)) cases.push({ name, method, via: 'http', inFlight, targets: await inProcessTargets(inFlight) });
    }
    for (const inFlight of [1, 64]) {
      const name = `remote gateway ${method}`;
      if (wanted(name, inFlight)) cases.push({ name, method, via: 'gateway', inFlight, targets: await gatewayTargets(inFlight) });
    }
  }
  return cases;
}

/** Seconds that repeated runs may add in all, so that a busy machine cannot stretch the run past its budget. */
const retryBudget: RetryBudget = { seconds: num('BENCH_RETRY_BUDGET_SECONDS', QUICK ? 10 : 120) };

/** One run, with the CPU it cost; again (twice at most) when other processes took CPU meanwhile. */
async function measured(env: Env, t: Target, seconds: number): Promise<Measured> {
  const pids: Record<string, number> = {};
  for (const [k, p] of Object.entries(env.procs)) if (p.child.pid !== undefined) pids[k] = p.child.pid;
  const { result: r, a, b, foreign } = await runQuiet(pids, () => t.run(seconds), {
    maxForeign: MAX_FOREIGN,
    budget: retryBudget,
    costSeconds: seconds,
    onDisturbed: (f, again) => log(`  (${t.label}: other processes used ${f.toFixed(2)} CPUs during the run${again ? '; running it again' : ''})`),
  });
  return { ...r, cpuUs: processMicros(a, b, t.procs) / r.requests, foreign };
}

async function runCase(env: Env, c: Case): Promise<CaseResult> {
  const runs: Measured[][] = c.targets.map(() => []);
  // Warm-up, thrown away; then the targets take turns, so drift hits each alike.
  for (const t of c.targets) await t.run(WARMUP);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, t] of c.targets.entries()) runs[i].push(await measured(env, t, SECONDS));
  }
  return {
    name: c.name,
    method: c.method,
    via: c.via,
    inFlight: c.inFlight,
    deep: c.deep,
    targets: c.targets.map((t, i) => {
      const rs = runs[i];
      const rps = rs.map((x) => x.rps);
      return {
        label: t.label,
        role: t.role,
        runs: rs,
        rps: median(rps),
        rpsMin: min(rps),
        rpsMax: max(rps),
        p50: median(rs.map((x) => x.p50Ms)),
        p99: median(rs.map((x) => x.p99Ms)),
        cpuUs: median(rs.map((x) => x.cpuUs)),
        foreign: max(rs.map((x) => x.foreign)),
        loadCpuUs: rs.every((x) => x.loadCpuUs !== undefined) ? median(rs.map((x) => x.loadCpuUs!)) : undefined,
      };
    }),
  };
}

// ---------------------------------------------------------------- deep cursor (keyset paging, contract 7.2)

interface DeepCursor {
  threadId: string;
  /** Messages in the thread: seqs 1 … messages. */
  messages: number;
  /** The cursor the deep page is read after, as the API answered it. */
  after: string;
  /** The seq its page starts and ends at (newest first). */
  pageSeqs: [number, number];
  /** Messages newer than that page: its depth from the newest end. */
  depth: number;
  /** The offset of the contrast target. */
  offset: number;
}

const listRequest = (threadId: string, over: Partial<ListMessagesRequest> = {}): ListMessagesRequest => ({
  threadId,
  limit: String(LIST_LIMIT),
  offset: '0',
  order: '',
  after: '',
  before: '',
  includeDeleted: '',
  ...over,
});

/**
 * A thread of CURSOR_MESSAGES messages (lib/fill.ts, seqs 1 … N) and a cursor near its oldest end, taken
 * through the API (cursors are signed: the runner cannot make one), without walking N / 25 pages: the
 * oldest 2 × 25 messages (order asc, no cursor) answer the cursor of seq 50 as next_cursor, and the page
 * after it, newest first like the first page, is seqs 49 … 25, with N − 49 messages newer than it. A
 * cursor names a position for the whole list (not an order), so one taken in asc serves in desc.
 */
async function prepareDeepCursor(env: Env, rpc: Rpc): Promise<DeepCursor> {
  const head = 2 * LIST_LIMIT;
  if (CURSOR_MESSAGES <= head) throw new Error(`BENCH_CURSOR_MESSAGES must be more than ${head}`);
  const threadId = await createThread(rpc, `bench cursor ${CURSOR_MESSAGES}`);
  const t0 = Date.now();
  await fillThread(env.redis, NS, threadId, CURSOR_MESSAGES, AUTHOR, TEXT);
  log(`  filled a thread with ${CURSOR_MESSAGES.toLocaleString('en')} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if ((await env.redis.zcard(threadKeys(NS, threadId).order)) !== CURSOR_MESSAGES) throw new Error('fill: wrong count');
  const seqs = (r: ListMessagesResponse) => r.messages.map((m) => Number(m.seq));
  const want = (ok: boolean, what: string, r: ListMessagesResponse) => {
    if (!ok) throw new Error(`deep cursor: ${what}: ${JSON.stringify({ ...r, messages: seqs(r) }).slice(0, 500)}`);
  };
  const oldest = (await rpc.call(threadDef.listMessages, listRequest(threadId, { limit: String(head), order: 'asc' }))).reply;
  want(oldest.hasMore && oldest.nextCursor !== '' && seqs(oldest).every((x, i) => x === i + 1) && oldest.messages.length === head, `the oldest ${head} (order asc) are not seqs 1 … ${head} with a next_cursor`, oldest);
  const after = oldest.nextCursor;
  const page = (await rpc.call(threadDef.listMessages, listRequest(threadId, { after }))).reply;
  const s = seqs(page);
  want(
    page.hasMore && s.length === LIST_LIMIT && s.every((x, i) => x === head - 1 - i),
    `the page after seq ${head}'s cursor, newest first, is not seqs ${head - 1} … ${head - LIST_LIMIT} with more beyond`,
    page,
  );
  // The fill's AOF growth may have started a rewrite (a fork of a Redis this big): not during the runs.
  await waitAofQuiet(env.redis);
  return {
    threadId,
    messages: CURSOR_MESSAGES,
    after,
    pageSeqs: [s[0], s[s.length - 1]],
    depth: CURSOR_MESSAGES - s[0],
    offset: Math.min(DEEP_OFFSET, CURSOR_MESSAGES - LIST_LIMIT),
  };
}

/** Three targets on the service's gRPC port, interleaved: the deep page (the case's "service"), the first page, the deepest offset. */
async function cursorCase(env: Env, d: DeepCursor): Promise<Case> {
  const def = threadDef.listMessages;
  const target = async (label: string, role: Target['role'], req: ListMessagesRequest): Promise<Target> => {
    const p = new Rpc(env.grpcPort, env.token);
    let minDataBytes: number;
    try {
      const { reply, bytes } = await p.call(def, req).catch((e: Error) => {
        throw new Error(`${label}: ${e.message}`);
      });
      checkReply('ListMessages', reply, label);
      minDataBytes = 5 + Math.floor(bytes * 0.9);
    } finally {
      p.close();
    }
    const body = grpcFrame(def.requestSerialize(req));
    return {
      label,
      role,
      procs: ['service', 'redis'],
      run: (seconds) => h2load({ port: env.grpcPort, path: PATHS.ListMessages.grpc, body, token: env.token, minDataBytes }, { seconds, inFlight: CURSOR_IN_FLIGHT, clients: H2_CLIENTS }),
    };
  };
  const offsetWhy = d.offset === DEEP_OFFSET ? 'MAX_OFFSET, the deepest allowed' : `the thread's deepest full page: only ${d.messages.toLocaleString('en')} messages`;
  return {
    name: CURSOR_CASE,
    method: 'ListMessages',
    via: 'gRPC',
    inFlight: CURSOR_IN_FLIGHT,
    deep: d,
    targets: [
      await target(`service: 25 after a cursor ${d.depth.toLocaleString('en')} deep (newest first)`, 'service', listRequest(d.threadId, { after: d.after })),
      await target('service: the first page (newest 25, no cursor)', 'firstPage', listRequest(d.threadId)),
      await target(`service: offset ${d.offset.toLocaleString('en')} (${offsetWhy}), newest first`, 'offset', listRequest(d.threadId, { offset: String(d.offset) })),
    ],
  };
}

// ---------------------------------------------------------------- a richer thread (issue 17)

/**
 * FILTER_THREADS threads in one group through the service (CreateThread, 100 at a time), every
 * (FILTER_THREADS / FILTER_MEMBER_OF)-th with FILTER_MEMBER as a participant; checked by listing them.
 */
async function prepareFilter(rpc: Rpc): Promise<void> {
  const every = Math.max(1, Math.floor(FILTER_THREADS / FILTER_MEMBER_OF));
  const member = { id: FILTER_MEMBER, type: 'user', name: 'Member', role: 'read_write', metadata: {}, joinedAt: '' };
  for (let i = 0; i < FILTER_THREADS; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, FILTER_THREADS - i) }, (_, k) =>
        rpc.call(threadDef.createThread, {
          groupId: FILTER_GROUP,
          topic: `t${i + k}`,
          metadata: {},
          createdBy: '',
          parentThreadId: '',
          parentMessageId: '',
          participants: (i + k) % every === 0 ? [member] : [],
        }),
      ),
    );
  }
  const req = { ...threadDef.listThreads.requestDeserialize(Buffer.alloc(0)), groupId: FILTER_GROUP, participantId: FILTER_MEMBER, limit: '1000' };
  const { reply } = await rpc.call(threadDef.listThreads, req);
  const n = (reply as { threads: unknown[] }).threads.length;
  if (n !== Math.ceil(FILTER_THREADS / every)) throw new Error(`${FILTER_CASE}: the member is in ${n} threads, expected ${Math.ceil(FILTER_THREADS / every)}`);
}

/** Two targets on the service's gRPC port, interleaved: the first page filtered by participant (the case's "service") and the unfiltered first page. */
async function filterCase(env: Env): Promise<Case> {
  const def = threadDef.listThreads;
  const target = async (label: string, role: Target['role'], req: Record<string, unknown>): Promise<Target> => {
    const full = { ...def.requestDeserialize(Buffer.alloc(0)), ...req };
    const p = new Rpc(env.grpcPort, env.token);
    let minDataBytes: number;
    try {
      const { reply, bytes } = await p.call(def, full as never);
      const threads = (reply as { threads: { id: string }[] }).threads;
      if (threads.length !== LIST_LIMIT) throw new Error(`${FILTER_CASE} ${label}: ${threads.length} threads, expected ${LIST_LIMIT}`);
      minDataBytes = 5 + Math.floor(bytes * 0.9);
    } finally {
      p.close();
    }
    const body = grpcFrame(def.requestSerialize(full as never));
    return {
      label,
      role,
      procs: ['service', 'redis'],
      run: (seconds) => h2load({ port: env.grpcPort, path: '/threads.Threads/ListThreads', body, token: env.token, minDataBytes }, { seconds, inFlight: FILTER_IN_FLIGHT, clients: H2_CLIENTS }),
    };
  };
  const n = FILTER_THREADS.toLocaleString('en');
  return {
    name: FILTER_CASE,
    method: 'ListThreads',
    via: 'gRPC',
    inFlight: FILTER_IN_FLIGHT,
    targets: [
      await target(`service: newest 25 of the ${FILTER_MEMBER_OF} threads (of ${n}) with participant_id`, 'service', { groupId: FILTER_GROUP, participantId: FILTER_MEMBER }),
      await target(`service: newest 25 of ${n} threads, no filter`, 'unfiltered', { groupId: FILTER_GROUP }),
    ],
  };
}

// ---------------------------------------------------------------- edits and deletes (issue 15)

/** The threads of the UpdateMessage / DeleteMessage cases and the half-deleted ListMessages case. */
interface Lifecycle {
  /** Per method: the service's thread and the storage floor's (its own keys), with their ids files. */
  threads: Record<LifecycleMethod, { service: string; floor: string; serviceIds: string; floorIds: string; messages: number }>;
  /** Where each target's next call starts in its ids file (DeleteMessage: ids never used twice). */
  next: Map<string, number>;
  half?: { deletedThread: string; fullThread: string; messages: number; deleted: number };
}

const lifecycleWanted = () => LIFECYCLE_METHODS.some((m) => [1, 64].some((n) => wanted(`gRPC ${m}`, n)));

/** A thread made by CreateThread, filled in the store's layout (lib/fill.ts), its ids (seq order) written to a file. */
async function filledThread(env: Env, rpc: Rpc, topic: string, n: number, idsFile?: string): Promise<string> {
  const id = await createThread(rpc, topic);
  await fillThread(env.redis, NS, id, n, AUTHOR, TEXT);
  if (idsFile) {
    const ids = await env.redis.zrange(threadKeys(NS, id).order, 0, -1);
    if (ids.length !== n) throw new Error(`fill: ${topic} holds ${ids.length} messages, expected ${n}`);
    writeFileSync(idsFile, ids.join('\n') + '\n');
  }
  return id;
}

async function prepareLifecycle(env: Env, rpc: Rpc): Promise<Lifecycle> {
  const t0 = Date.now();
  const threads = {} as Lifecycle['threads'];
  for (const m of LIFECYCLE_METHODS) {
    if (![1, 64].some((n) => wanted(`gRPC ${m}`, n))) continue;
    const n = m === 'UpdateMessage' ? UPDATE_MESSAGES : DELETE_MESSAGES;
    const f = (who: string) => join(env.dir, `${m}-${who}.ids`);
    threads[m] = {
      service: await filledThread(env, rpc, `bench ${m} service`, n, f('service')),
      floor: await filledThread(env, rpc, `bench ${m} floor`, n, f('floor')),
      serviceIds: f('service'),
      floorIds: f('floor'),
      messages: n,
    };
  }
  let half: Lifecycle['half'];
  if (wanted(HALF_CASE, HALF_IN_FLIGHT)) {
    const deletedThread = await filledThread(env, rpc, `bench half deleted ${HALF_MESSAGES}`, HALF_MESSAGES);
    const deleted = await deleteEvenSeqs(env.redis, NS, deletedThread);
    const fullThread = await filledThread(env, rpc, `bench none deleted ${HALF_MESSAGES}`, HALF_MESSAGES);
    half = { deletedThread, fullThread, messages: HALF_MESSAGES, deleted };
  }
  log(`  filled the threads of the edit and delete cases in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await waitAofQuiet(env.redis);
  return { threads, next: new Map(), half };
}

/** One vary-load run (bench/vary-load.ts): a different message per call, from the target's place in its ids file. */
async function varyLoad(spec: VaryLoadSpec): Promise<VaryLoadResult> {
  const r = await runTool('vary-load', process.execPath, [join(DIST, 'bench', 'vary-load.js'), JSON.stringify(spec)], (spec.seconds + 60) * 1000);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`vary-load ${spec.path} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(line) as VaryLoadResult;
}

async function lifecycleCases(env: Env, lc: Lifecycle): Promise<Case[]> {
  const cases: Case[] = [];
  const meta = (thread: string, field: string) => async () => Number((await env.redis.hget(threadKeys(NS, thread).meta, field)) ?? 0);
  for (const method of LIFECYCLE_METHODS) {
    const t = lc.threads[method];
    if (!t) continue;
    const path = `/threads.Threads/${method}`;
    const def = method === 'UpdateMessage' ? threadDef.updateMessage : threadDef.deleteMessage;
    const firstId = (file: string) => readFileSync(file, 'utf8').split('\n', 1)[0];
    // The transport floor answers a fixed message (strict = false: any message will do).
    const probeOk = async (port: number, label: string, thread: string, id: string, strict = true) => {
      const p = new Rpc(port, env.token);
      try {
        const req = method === 'UpdateMessage' ? { threadId: thread, id, text: EDITED_TEXT, metadata: {} } : { threadId: thread, id };
        const { reply } = await p.call(def as MethodDef<typeof req, { message?: { id: string; text: string; deletedAt: string } }>, req).catch((e: Error) => {
          throw new Error(`${label} ${method}: ${e.message}`);
        });
        const m = reply.message;
        const changed = m && m.id === id && (method === 'UpdateMessage' ? m.text === EDITED_TEXT : m.deletedAt !== '');
        if (!m || (strict && !changed)) throw new Error(`${label} ${method}: not the message changed: ${JSON.stringify(reply).slice(0, 300)}`);
      } finally {
        p.close();
      }
    };
    // Each target's runs go on where its last run stopped. A delete's probe used the file's first id.
    const targetOf = (key: string, port: number, thread: string, idsFile: string, cycle: boolean, inFlight: number, check?: (issued: number, before: number, after: number) => void, counter?: () => Promise<number>) =>
      async (seconds: number): Promise<RunResult> => {
        const start = lc.next.get(`${method} ${key}`) ?? (method === 'DeleteMessage' ? 1 : 0);
        const before = counter ? await counter() : 0;
        const r = await varyLoad({ port, path, token: env.token, seconds, inFlight, clients: Math.min(H2_CLIENTS, inFlight), threadId: thread, idsFile, start, cycle, text: method === 'UpdateMessage' ? EDITED_TEXT : undefined });
        lc.next.set(`${method} ${key}`, cycle ? (start + r.issued) % t.messages : start + r.issued);
        if (check && counter) check(r.issued, before, await counter());
        return { rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, requests: r.requests, loadCpuUs: r.loadCpuUs } as RunResult;
      };
    // What the store must show after a run: every call sent was a real change.
    const moved = (what: string, sign: number) => (issued: number, before: number, after: number) => {
      if ((after - before) * sign !== issued) throw new Error(`${method}: ${issued} calls sent but ${what} moved by ${after - before}`);
    };
    await probeOk(env.grpcPort, 'service', t.service, firstId(t.serviceIds));
    await probeOk(env.bareStoragePort, 'storage floor', t.floor, firstId(t.floorIds));
    await probeOk(env.bareFixedPort, 'transport floor', t.service, firstId(t.serviceIds), false);
    for (const inFlight of [1, 64]) {
      const name = `gRPC ${method}`;
      if (!wanted(name, inFlight)) continue;
      const svcCheck =
        method === 'UpdateMessage'
          ? { check: moved("the thread's feed position (meta e)", 1), counter: meta(t.service, 'e') }
          : { check: moved("the thread's count (meta n)", -1), counter: meta(t.service, 'n') };
      const floorDel = `${threadKeys(NS, t.floor).order.slice(0, -':seq'.length)}:del`;
      const floorCheck = method === 'DeleteMessage' ? { check: moved("the floor thread's deleted zset", 1), counter: () => env.redis.zcard(floorDel) } : {};
      cases.push({
        name,
        method,
        via: 'gRPC',
        inFlight,
        targets: [
          { label: 'service', role: 'service', procs: ['service', 'redis'], run: targetOf('service', env.grpcPort, t.service, t.serviceIds, method === 'UpdateMessage', inFlight, svcCheck.check, svcCheck.counter) },
          { label: 'transport floor: bare grpc-js, fixed reply', role: 'transport', procs: ['bareFixed'], run: targetOf(`transport ${inFlight}`, env.bareFixedPort, t.service, t.serviceIds, true, inFlight) },
          { label: 'storage floor: bare grpc-js, one EVALSHA', role: 'storage', procs: ['bareStorage', 'redis'], run: targetOf('storage', env.bareStoragePort, t.floor, t.floorIds, method === 'UpdateMessage', inFlight, floorCheck.check, floorCheck.counter) },
        ],
      });
    }
  }
  if (lc.half) {
    const h = lc.half;
    const target = async (label: string, role: Target['role'], threadId: string): Promise<Target> => {
      const req = listRequest(threadId);
      const p = new Rpc(env.grpcPort, env.token);
      let minDataBytes: number;
      try {
        const { reply, bytes } = await p.call(threadDef.listMessages, req);
        checkReply('ListMessages', reply, label);
        // Newest first, and none of them deleted: the half-deleted thread's are its odd seqs.
        const seqs = reply.messages.map((m) => Number(m.seq));
        const step = role === 'service' ? 2 : 1;
        const top = role === 'service' ? h.messages - (h.messages % 2 === 0 ? 1 : 0) : h.messages;
        if (!seqs.every((q, i) => q === top - i * step) || reply.messages.some((m) => m.deletedAt !== '')) throw new Error(`${label}: unexpected page: seqs ${seqs.join(',')}`);
        minDataBytes = 5 + Math.floor(bytes * 0.9);
      } finally {
        p.close();
      }
      const body = grpcFrame(threadDef.listMessages.requestSerialize(req));
      return {
        label,
        role,
        procs: ['service', 'redis'],
        run: (seconds) => h2load({ port: env.grpcPort, path: PATHS.ListMessages.grpc, body, token: env.token, minDataBytes }, { seconds, inFlight: HALF_IN_FLIGHT, clients: H2_CLIENTS }),
      };
    };
    const n = h.messages.toLocaleString('en');
    cases.push({
      name: HALF_CASE,
      method: 'ListMessages',
      via: 'gRPC',
      inFlight: HALF_IN_FLIGHT,
      targets: [
        await target(`service: newest 25 of ${n}, every second one deleted (${h.deleted.toLocaleString('en')})`, 'service', h.deletedThread),
        await target(`service: newest 25 of ${n}, none deleted`, 'noneDeleted', h.fullThread),
      ],
    });
  }
  return cases;
}

function lifecycleReport(lc: Lifecycle): string {
  const parts: string[] = [];
  const u = lc.threads.UpdateMessage;
  const d = lc.threads.DeleteMessage;
  if (u || d) {
    parts.push(
      'Edits and deletes: driven by bench/vary-load.js (raw node:http2, a different message per call; h2load sends one body for all), ' +
        `${H2_CLIENTS} connections × 16 streams at 64 in flight. Service and storage floor each on a thread of their own, filled in the store's layout (lib/fill.ts)` +
        (u ? `; UpdateMessage: round-robin over the ${u.messages.toLocaleString('en')} messages of its thread, a new 100-byte text each call` : '') +
        (d ? `; DeleteMessage: each call a message not yet deleted, from threads of ${d.messages.toLocaleString('en')}` : '') +
        ". After each run of the service the thread's feed position (update) or count (delete) moved by exactly the calls sent; the floor's deleted zset too.",
    );
  }
  if (lc.half) {
    parts.push(
      `Half deleted: two threads of ${lc.half.messages.toLocaleString('en')} (lib/fill.ts); in one every even seq (${lc.half.deleted.toLocaleString('en')}) deleted in the store's layout ` +
        "(lib/fill.ts deleteEvenSeqs: `:seq` → `:del`, \"d\" in the record, count `n` lowered; no feed events). ListMessages limit 25, newest first, default (visible only), interleaved; the target reads server CPU per call (service + redis).",
    );
  }
  return parts.join('\n\n');
}

// ---------------------------------------------------------------- inboxes and read state (issue 16)

/** ListChats: a user with this many chats, each of INBOX_MESSAGES messages and the user's read pointer on the first. */
const INBOX_CHATS = num('BENCH_INBOX_CHATS', 1000);
const INBOX_MESSAGES = 3;
const INBOX_USER = 'bench-inbox-user';
const INBOX_CASE = `gRPC ListChats ${INBOX_CHATS}`;
/** MarkRead and ReadThread with user_id, in a thread of READ_BIG and one of READ_SMALL messages. */
const READ_BIG = num('BENCH_READ_MESSAGES', 1_000_000);
const READ_SMALL = 1_000;
const MARK_CASE = 'gRPC MarkRead';
const UNREAD_CASE = 'gRPC ReadThread unread';
const READ_IN_FLIGHT = 64;
/** Fresh readers per MarkRead target (one per call: the pointer only moves forward, so each call must be a new user's). */
const READERS = num('BENCH_READERS', 250_000);
/** The reader whose pointer is on the middle message (ReadThread's user_id). */
const READER_MID = 'bench-reader-mid';
const inboxWanted = () => wanted(INBOX_CASE, READ_IN_FLIGHT);
const readWanted = () => wanted(MARK_CASE, READ_IN_FLIGHT) || wanted(UNREAD_CASE, READ_IN_FLIGHT);
const readsKey = (threadId: string) => `${threadKeys(NS, threadId).order.slice(0, -':seq'.length)}:rd`;

/**
 * The inbox of INBOX_USER, made through the API (no direct writes): INBOX_CHATS CreateChat calls of that user
 * and a peer of their own, INBOX_MESSAGES SendMessage calls per chat by the peer, and the user's MarkRead on
 * each chat's first message (unread: INBOX_MESSAGES − 1). 50 chats at a time.
 */
async function prepareInbox(rpc: Rpc): Promise<void> {
  const one = async (i: number) => {
    const peer = `bench-peer-${i}`;
    const chatId = (await rpc.call(ChatsService.createChat, { userIds: [INBOX_USER, peer], id: '', metadata: {} })).reply.chat!.id;
    let first = '';
    for (let m = 0; m < INBOX_MESSAGES; m++) {
      const sent = (await rpc.call(ChatsService.sendMessage, { id: '', chatId, authorId: peer, text: TEXT, metadata: {} })).reply.message!;
      if (m === 0) first = sent.id;
    }
    await rpc.call(ChatsService.markRead, { chatId, userId: INBOX_USER, messageId: first });
  };
  for (let i = 0; i < INBOX_CHATS; i += 50) await Promise.all(Array.from({ length: Math.min(50, INBOX_CHATS - i) }, (_, j) => one(i + j)));
}

/** ListChats, page of 25 of INBOX_USER's chats: the service against the storage floor (one script), h2load. */
async function inboxCase(env: Env): Promise<Case> {
  const def = ChatsService.listChats;
  const req: ListChatsRequest = { userId: INBOX_USER, limit: String(LIST_LIMIT), after: '', before: '' };
  const unread = String(INBOX_MESSAGES - 1);
  const probe = async (port: number, label: string, service: boolean) => {
    const p = new Rpc(port, env.token);
    try {
      const { reply, bytes } = await p.call(def, req).catch((e: Error) => {
        throw new Error(`${label} ListChats: ${e.message}`);
      });
      const c = reply.chats;
      const bad = (why: string) => new Error(`${label} ListChats: ${why}: ${JSON.stringify(reply).slice(0, 400)}`);
      if (c.length !== LIST_LIMIT) throw bad(`not ${LIST_LIMIT} chats`);
      // The service decodes the last message; the floor answers its record as stored (the text inside).
      if (!c.every((x) => x.unreadCount === unread && x.lastMessage && x.lastMessage.seq === String(INBOX_MESSAGES) && x.lastMessage.text.includes(TEXT))) {
        throw bad(`not every chat with its message ${INBOX_MESSAGES} last and ${unread} unread`);
      }
      if (!c.every((x, i) => i === 0 || BigInt(x.lastMessageAt) <= BigInt(c[i - 1].lastMessageAt))) throw bad('not newest activity first');
      if (service && !reply.hasMore) throw bad('no has_more');
      return { ids: c.map((x) => x.id), minDataBytes: 5 + Math.floor(bytes * 0.9) };
    } finally {
      p.close();
    }
  };
  const svc = await probe(env.grpcPort, 'service', true);
  const floor = await probe(env.bareStoragePort, 'storage floor', false);
  if (svc.ids.join() !== floor.ids.join()) throw new Error('ListChats: the storage floor answers other chats than the service');
  const body = grpcFrame(def.requestSerialize(req));
  const h2 = (port: number, minDataBytes: number) => (seconds: number) =>
    h2load({ port, path: '/chats.Chats/ListChats', body, token: env.token, minDataBytes }, { seconds, inFlight: READ_IN_FLIGHT, clients: H2_CLIENTS });
  return {
    name: INBOX_CASE,
    method: 'ListChats',
    via: 'gRPC',
    inFlight: READ_IN_FLIGHT,
    targets: [
      { label: `service: newest 25 of ${INBOX_CHATS.toLocaleString('en')} chats`, role: 'service', procs: ['service', 'redis'], run: h2(env.grpcPort, svc.minDataBytes) },
      { label: 'storage floor: bare grpc-js, one EVALSHA of the same reads', role: 'storage', procs: ['bareStorage', 'redis'], run: h2(env.bareStoragePort, floor.minDataBytes) },
    ],
  };
}

interface ReadThread {
  threadId: string;
  messages: number;
  /** The message in the middle (seq messages / 2): MarkRead's target and READER_MID's pointer. */
  midId: string;
  midSeq: number;
  /** Files of fresh user ids, one per MarkRead target. */
  readers: { service: string; floor: string };
}

interface ReadState {
  big: ReadThread;
  small: ReadThread;
  /** Where each MarkRead target's next call starts in its readers file (never a reader twice). */
  next: Map<string, number>;
}

/** The two threads (lib/fill.ts), READER_MID's pointer on each one's middle message (MarkRead), the readers' files. */
async function prepareRead(env: Env, rpc: Rpc): Promise<ReadState> {
  const make = async (n: number): Promise<ReadThread> => {
    const t0 = Date.now();
    const threadId = await filledThread(env, rpc, `bench read ${n}`, n);
    const midSeq = Math.floor(n / 2);
    const [midId] = await env.redis.zrangebyscore(threadKeys(NS, threadId).order, midSeq, midSeq);
    const { reply } = await rpc.call(threadDef.markRead, { threadId, userId: READER_MID, messageId: midId });
    if (reply.thread?.unreadCount !== String(n - midSeq)) throw new Error(`MarkRead in the thread of ${n}: unread ${reply.thread?.unreadCount}, expected ${n - midSeq}`);
    const readers = { service: join(env.dir, `readers-${n}-service.ids`), floor: join(env.dir, `readers-${n}-floor.ids`) };
    for (const [who, file] of Object.entries(readers)) writeFileSync(file, Array.from({ length: READERS }, (_, i) => `bench-reader-${who}-${i}`).join('\n') + '\n');
    log(`  a thread of ${n.toLocaleString('en')} messages (lib/fill.ts) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { threadId, messages: n, midId, midSeq, readers };
  };
  const big = await make(READ_BIG);
  const small = await make(READ_SMALL);
  await waitAofQuiet(env.redis);
  return { big, small, next: new Map() };
}

/**
 * MarkRead (vary-load.js: each call a fresh user's pointer to the middle message) and ReadThread with user_id
 * (h2load: READER_MID's unread count), each a case of four targets taking turns: the service and the storage
 * floor on the big thread (the case's "service" and "storage") and on the small one ("small", "smallStorage").
 */
async function readCases(env: Env, rs: ReadState): Promise<Case[]> {
  const cases: Case[] = [];
  const sets = [
    ['big', rs.big],
    ['small', rs.small],
  ] as const;
  const n = (t: ReadThread) => t.messages.toLocaleString('en');
  if (wanted(MARK_CASE, READ_IN_FLIGHT)) {
    const probe = async (port: number, label: string, t: ReadThread) => {
      const p = new Rpc(port, env.token);
      try {
        const { reply } = await p.call(threadDef.markRead, { threadId: t.threadId, userId: `bench-probe-${port}`, messageId: t.midId }).catch((e: Error) => {
          throw new Error(`${label} MarkRead: ${e.message}`);
        });
        if (reply.thread?.id !== t.threadId || reply.thread.unreadCount !== String(t.messages - t.midSeq)) throw new Error(`${label} MarkRead: ${JSON.stringify(reply).slice(0, 300)}`);
      } finally {
        p.close();
      }
    };
    // Every call is a new reader's: the thread's read pointers hash must grow by exactly the calls sent.
    const target = (key: string, port: number, t: ReadThread, file: string) => async (seconds: number): Promise<RunResult> => {
      const start = rs.next.get(key) ?? 0;
      const before = await env.redis.hlen(readsKey(t.threadId));
      const r = await varyLoad({ port, path: '/threads.Threads/MarkRead', token: env.token, seconds, inFlight: READ_IN_FLIGHT, clients: H2_CLIENTS, threadId: t.threadId, idsFile: file, start, cycle: false, text: t.midId });
      rs.next.set(key, start + r.issued);
      const moved = (await env.redis.hlen(readsKey(t.threadId))) - before;
      if (moved !== r.issued) throw new Error(`MarkRead ${key}: ${r.issued} calls sent but the read pointers grew by ${moved}`);
      return { rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, requests: r.requests, loadCpuUs: r.loadCpuUs } as RunResult;
    };
    const targets: Target[] = [];
    for (const [size, t] of sets) {
      await probe(env.grpcPort, 'service', t);
      await probe(env.bareStoragePort, 'storage floor', t);
      targets.push(
        { label: `service: thread of ${n(t)}`, role: size === 'big' ? 'service' : 'small', procs: ['service', 'redis'], run: target(`service ${size}`, env.grpcPort, t, t.readers.service) },
        { label: `storage floor: thread of ${n(t)}, one EVALSHA`, role: size === 'big' ? 'storage' : 'smallStorage', procs: ['bareStorage', 'redis'], run: target(`floor ${size}`, env.bareStoragePort, t, t.readers.floor) },
      );
    }
    cases.push({ name: MARK_CASE, method: 'MarkRead', via: 'gRPC', inFlight: READ_IN_FLIGHT, targets });
  }
  if (wanted(UNREAD_CASE, READ_IN_FLIGHT)) {
    const def = threadDef.readThread;
    const targets: Target[] = [];
    for (const [size, t] of sets) {
      const req: ReadThreadRequest = { id: t.threadId, groupId: '', userId: READER_MID };
      const body = grpcFrame(def.requestSerialize(req));
      const probe = async (port: number, label: string) => {
        const p = new Rpc(port, env.token);
        try {
          const { reply, bytes } = await p.call(def, req).catch((e: Error) => {
            throw new Error(`${label} ReadThread: ${e.message}`);
          });
          if (reply.thread?.id !== t.threadId || reply.thread.unreadCount !== String(t.messages - t.midSeq)) throw new Error(`${label} ReadThread: ${JSON.stringify(reply).slice(0, 300)}`);
          return 5 + Math.floor(bytes * 0.9);
        } finally {
          p.close();
        }
      };
      const h2 = (port: number, minDataBytes: number) => (seconds: number) =>
        h2load({ port, path: '/threads.Threads/ReadThread', body, token: env.token, minDataBytes }, { seconds, inFlight: READ_IN_FLIGHT, clients: H2_CLIENTS });
      targets.push(
        { label: `service: thread of ${n(t)}`, role: size === 'big' ? 'service' : 'small', procs: ['service', 'redis'], run: h2(env.grpcPort, await probe(env.grpcPort, 'service')) },
        { label: `storage floor: thread of ${n(t)}, one EVALSHA`, role: size === 'big' ? 'storage' : 'smallStorage', procs: ['bareStorage', 'redis'], run: h2(env.bareStoragePort, await probe(env.bareStoragePort, 'storage floor')) },
      );
    }
    cases.push({ name: UNREAD_CASE, method: 'ReadThread', via: 'gRPC', inFlight: READ_IN_FLIGHT, targets });
  }
  return cases;
}

function inboxReport(rs: ReadState | undefined, inbox: boolean): string {
  const parts: string[] = [];
  if (inbox) {
    parts.push(
      `ListChats: one user with ${INBOX_CHATS.toLocaleString('en')} chats made through the API (CreateChat with a peer each, ${INBOX_MESSAGES} SendMessage by the peer, ` +
        `the user's MarkRead on the first: ${INBOX_MESSAGES - 1} unread each); page of 25, newest activity first, h2load. The storage floor reads the same keys in ONE script ` +
        '(ZREVRANGE of the inbox 0..24, then per chat HGETALL meta, ZRANGE -1 -1 of its seq zset, HGET the record, HGET the read pointer, ZCOUNT): the chats\' keys are ' +
        "built inside the script, which one Redis allows and a Redis Cluster would not (the service reads each chat in its own slot: one script for the page, then 25 pipelined). " +
        'The probe checks both answer the same 25 chats.',
    );
  }
  if (rs) {
    parts.push(
      `MarkRead and ReadThread unread: threads of ${rs.big.messages.toLocaleString('en')} and ${rs.small.messages.toLocaleString('en')} messages (lib/fill.ts), four targets taking turns ` +
        "(service and storage floor on each; \"service ÷ this\" is against the service on the big thread). MarkRead by vary-load.js: every call a fresh user id's pointer " +
        `to the middle message (seq ${rs.big.midSeq.toLocaleString('en')} / ${rs.small.midSeq.toLocaleString('en')}), since a pointer never moves back; the thread's pointers hash must grow by exactly the calls sent. ` +
        `ReadThread by h2load with user_id ${READER_MID}, whose pointer is on the middle message (unread_count = half the thread, a ZCOUNT).`,
    );
  }
  return parts.join('\n\n');
}

// ---------------------------------------------------------------- memory and delete

interface MemoryResult {
  messages: number;
  usedMemoryDelta: number;
  bytesPerMessage: number;
  rawJsonBytes: number;
  ratio: number;
  perKey: Record<string, number>;
  fillRps: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** 100,000 CreateMessage calls through the service into one fresh thread (also the ListMessages thread). */
async function measureMemory(env: Env, threadId: string): Promise<MemoryResult> {
  const rpc = new Rpc(env.grpcPort, env.token);
  const req: CreateMessageRequest = { id: '', threadId, authorId: AUTHOR, text: TEXT, metadata: {} };
  const probe = await rpc.call(threadDef.createMessage, req);
  rpc.close();
  await sleep(300);
  const before = await usedMemory(env.redis);
  const r = await h2load(
    { port: env.grpcPort, path: PATHS.CreateMessage.grpc, body: grpcFrame(threadDef.createMessage.requestSerialize(req)), token: env.token, minDataBytes: 5 + Math.floor(probe.bytes * 0.9) },
    { requests: MEMORY_MESSAGES - 1, inFlight: 64, clients: H2_CLIENTS },
  );
  await sleep(500);
  const after = await usedMemory(env.redis);
  const k = threadKeys(NS, threadId);
  const count = await env.redis.zcard(k.order);
  if (count !== MEMORY_MESSAGES) throw new Error(`memory: the thread holds ${count} messages, expected ${MEMORY_MESSAGES}`);
  // The message as the API returns it (the JSON of the service's own HTTP port).
  const page = await postJson(env.serviceHttpPort, PATHS.ListMessages.http, JSON.stringify({ thread_id: threadId, limit: 1 }), env.token);
  const msg = (page.json as { messages: unknown[] }).messages[0];
  const rawJsonBytes = Buffer.byteLength(JSON.stringify(msg));
  const perKey: Record<string, number> = {};
  for (const [name, key] of Object.entries(k)) perKey[name] = Number(await env.redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) / MEMORY_MESSAGES;
  // One message more than the delta covers (the probe): per message, (MESSAGES - 1) calls moved the delta.
  const bytesPerMessage = (after - before) / (MEMORY_MESSAGES - 1);
  return { messages: MEMORY_MESSAGES, usedMemoryDelta: after - before, bytesPerMessage, rawJsonBytes, ratio: bytesPerMessage / rawJsonBytes, perKey, fillRps: r.rps };
}

interface DeleteResult {
  smallMessages: number;
  bigMessages: number;
  smallMs: number[];
  bigMs: number[];
  ratio: number;
}

async function waitLazyFree(redis: Redis): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const info = await redis.info('memory');
    if (Number(/lazyfree_pending_objects:(\d+)/.exec(info)?.[1] ?? 0) === 0) return;
    await sleep(100);
  }
}

/** No AOF rewrite running or scheduled (a fork copies the page tables of a big Redis and stalls it). */
async function waitAofQuiet(redis: Redis): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const info = await redis.info('persistence');
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
    await sleep(100);
  }
}

async function timeDelete(env: Env, rpc: Rpc, id: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await rpc.call(threadDef.deleteThread, { id });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const k = threadKeys(NS, id);
  if ((await env.redis.exists(k.meta, k.order, k.bodies)) !== 0) throw new Error(`DeleteThread ${id}: keys remain`);
  return ms;
}

async function measureDelete(env: Env): Promise<DeleteResult> {
  const rpc = new Rpc(env.grpcPort, env.token);
  await rpc.ready();
  const small: number[] = [];
  const big: number[] = [];
  // Warm the path once.
  await timeDelete(env, rpc, await createThread(rpc, 'delete warm-up'));
  for (let round = 0; round < DELETE_ROUNDS; round++) {
    const bigId = await createThread(rpc, `delete ${BIG}`);
    const t0 = Date.now();
    await fillThread(env.redis, NS, bigId, BIG, AUTHOR, TEXT);
    log(`  filled a thread with ${BIG.toLocaleString('en')} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if ((await env.redis.zcard(threadKeys(NS, bigId).order)) !== BIG) throw new Error('fill: wrong count');
    const smallIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await createThread(rpc, 'delete 10');
      await postMessages(rpc, id, 10);
      smallIds.push(id);
    }
    await waitAofQuiet(env.redis);
    await sleep(500);
    for (const id of smallIds.slice(0, 2)) small.push(await timeDelete(env, rpc, id));
    big.push(await timeDelete(env, rpc, bigId));
    small.push(await timeDelete(env, rpc, smallIds[2]));
    await waitLazyFree(env.redis);
  }
  rpc.close();
  return { smallMessages: 10, bigMessages: BIG, smallMs: small, bigMs: big, ratio: median(big) / median(small) };
}

// ---------------------------------------------------------------- report

interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  redis: string;
  kernel: string;
  h2load: string;
  wrk: string;
}

function machine(redisVersion: string): Machine {
  const v = (cmd: string, args: string[], re: RegExp) => {
    try {
      const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return re.exec(out)?.[1] ?? out.trim().split('\n')[0];
    } catch (e) {
      const out = String((e as { stdout?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '');
      return re.exec(out)?.[1] ?? '?';
    }
  };
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? '?',
    node: process.version,
    redis: redisVersion,
    kernel: release(),
    h2load: v('h2load', ['--version'], /nghttp2\/(\S+)/),
    wrk: v('wrk', ['-v'], /wrk (\S+)/),
  };
}

interface Verdict {
  target: string;
  value: string;
  met: boolean;
}

function verdicts(cases: CaseResult[], mem?: MemoryResult, del?: DeleteResult): Verdict[] {
  const out: Verdict[] = [];
  const find = (name: string, inFlight: number) => cases.find((c) => c.name === name && c.inFlight === inFlight);
  const ratio = (c: CaseResult | undefined, role: Target['role']) => {
    const s = c?.targets.find((t) => t.role === 'service');
    const f = c?.targets.find((t) => t.role === role);
    return s && f ? s.rps / f.rps : NaN;
  };
  const cm = find('gRPC CreateMessage', 64);
  if (cm) {
    const r = ratio(cm, 'storage');
    out.push({ target: 'gRPC CreateMessage, 64 in flight ≥ 0.75 × storage floor', value: fmtRatio(r), met: r >= 0.75 });
  }
  const lm = find('gRPC ListMessages', 64);
  if (lm) {
    const r = ratio(lm, 'storage');
    out.push({ target: 'gRPC ListMessages (25 of 100,000), 64 in flight ≥ 0.6 × bare server doing the same reads', value: fmtRatio(r), met: r >= 0.6 });
  }
  const jm = find('in-process JSON CreateMessage', 64);
  if (jm) {
    const r = ratio(jm, 'json');
    out.push({ target: 'in-process JSON CreateMessage (service\'s own HTTP port), 64 in flight ≥ 0.75 × in-process JSON floor', value: fmtRatio(r), met: r >= 0.75 });
  }
  const gm = find('remote gateway CreateMessage', 64);
  if (gm) {
    const r = ratio(gm, 'hop');
    out.push({ target: 'remote gateway CreateMessage, 64 in flight ≥ 0.8 × hop floor (gateway floor)', value: fmtRatio(r), met: r >= 0.8 });
  }
  const c1 = find('gRPC CreateMessage', 1);
  if (c1) {
    const p99 = c1.targets.find((t) => t.role === 'service')!.p99;
    out.push({ target: 'gRPC CreateMessage unloaded (1 in flight) p99 < 1 ms', value: `${fmtMs(p99)} ms`, met: p99 < 1 });
  }
  const dc = find(CURSOR_CASE, CURSOR_IN_FLIGHT);
  if (dc) {
    const deep = dc.targets.find((t) => t.role === 'service')!;
    const first = dc.targets.find((t) => t.role === 'firstPage')!;
    const r = deep.cpuUs / first.cpuUs;
    out.push({
      target: `gRPC ListMessages, 25 after a cursor ${dc.deep!.depth.toLocaleString('en')} deep, ${CURSOR_IN_FLIGHT} in flight: server CPU per call ≤ 1.5 × the first page's`,
      value: `${deep.cpuUs.toFixed(0)} µs / ${first.cpuUs.toFixed(0)} µs = ${fmtRatio(r)}`,
      met: r <= 1.5,
    });
  }
  const fc = find(FILTER_CASE, FILTER_IN_FLIGHT);
  if (fc) {
    const filtered = fc.targets.find((t) => t.role === 'service')!;
    const plain = fc.targets.find((t) => t.role === 'unfiltered')!;
    const r = filtered.cpuUs / plain.cpuUs;
    out.push({
      target: `gRPC ListThreads by participant_id (in ${FILTER_MEMBER_OF} of ${FILTER_THREADS.toLocaleString('en')} threads), ${FILTER_IN_FLIGHT} in flight: server CPU per call ≤ 2 × the unfiltered first page's`,
      value: `${filtered.cpuUs.toFixed(0)} µs / ${plain.cpuUs.toFixed(0)} µs = ${fmtRatio(r)}`,
      met: r <= 2,
    });
  }
  for (const method of LIFECYCLE_METHODS) {
    const c = find(`gRPC ${method}`, 64);
    if (!c) continue;
    const r = ratio(c, 'storage');
    // The load process (vary-load.js) costs the machine more per call than h2load, which narrows throughput
    // ratios: the server CPU per call, which it does not touch, is shown beside (floor's ÷ service's).
    const svc = c.targets.find((t) => t.role === 'service')!;
    const floor = c.targets.find((t) => t.role === 'storage')!;
    out.push({
      target: `gRPC ${method}, 64 in flight ≥ 0.75 × storage floor`,
      value: `${fmtRatio(r)} (server CPU per call: floor ${floor.cpuUs.toFixed(0)} µs ÷ service ${svc.cpuUs.toFixed(0)} µs = ${fmtRatio(floor.cpuUs / svc.cpuUs)})`,
      met: r >= 0.75,
    });
  }
  const hd = find(HALF_CASE, HALF_IN_FLIGHT);
  if (hd) {
    const half = hd.targets.find((t) => t.role === 'service')!;
    const none = hd.targets.find((t) => t.role === 'noneDeleted')!;
    const r = half.cpuUs / none.cpuUs;
    out.push({
      target: `gRPC ListMessages 25 of ${HALF_MESSAGES.toLocaleString('en')} with every second deleted, ${HALF_IN_FLIGHT} in flight: server CPU per call ≤ 1.5 × with none deleted`,
      value: `${half.cpuUs.toFixed(0)} µs / ${none.cpuUs.toFixed(0)} µs = ${fmtRatio(r)}`,
      met: r <= 1.5,
    });
  }
  const ic = find(INBOX_CASE, READ_IN_FLIGHT);
  if (ic) {
    const svc = ic.targets.find((t) => t.role === 'service')!;
    const floor = ic.targets.find((t) => t.role === 'storage')!;
    const r = svc.rps / floor.rps;
    out.push({
      target: `gRPC ListChats, page of 25 of ${INBOX_CHATS.toLocaleString('en')} chats, ${READ_IN_FLIGHT} in flight ≥ 0.6 × storage floor`,
      value: `${fmtRatio(r)} (server CPU per call: floor ${floor.cpuUs.toFixed(0)} µs ÷ service ${svc.cpuUs.toFixed(0)} µs = ${fmtRatio(floor.cpuUs / svc.cpuUs)})`,
      met: r >= 0.6,
    });
  }
  for (const name of [MARK_CASE, UNREAD_CASE]) {
    const c = find(name, READ_IN_FLIGHT);
    if (!c) continue;
    const t = (role: Target['role']) => c.targets.find((x) => x.role === role)!;
    for (const [svcRole, floorRole, size] of [
      ['service', 'storage', READ_BIG],
      ['small', 'smallStorage', READ_SMALL],
    ] as const) {
      const svc = t(svcRole);
      const floor = t(floorRole);
      const r = svc.rps / floor.rps;
      out.push({
        target: `${name}, thread of ${size.toLocaleString('en')}, ${READ_IN_FLIGHT} in flight ≥ 0.6 × storage floor`,
        value: `${fmtRatio(r)} (server CPU per call: floor ${floor.cpuUs.toFixed(0)} µs ÷ service ${svc.cpuUs.toFixed(0)} µs = ${fmtRatio(floor.cpuUs / svc.cpuUs)})`,
        met: r >= 0.6,
      });
    }
    const big = t('service');
    const small = t('small');
    const r = big.cpuUs / small.cpuUs;
    out.push({
      target: `${name}: server CPU per call, thread of ${READ_BIG.toLocaleString('en')} ≤ 1.5 × thread of ${READ_SMALL.toLocaleString('en')}`,
      value: `${big.cpuUs.toFixed(0)} µs / ${small.cpuUs.toFixed(0)} µs = ${fmtRatio(r)}`,
      met: r <= 1.5,
    });
  }
  if (mem) out.push({ target: 'Redis memory per message ≤ 1.6 × raw JSON', value: `${mem.bytesPerMessage.toFixed(0)} B / ${mem.rawJsonBytes} B = ${mem.ratio.toFixed(2)}`, met: mem.ratio <= 1.6 });
  if (del) out.push({ target: 'DeleteThread of 1,000,000 messages ≤ 2 × of 10', value: `${fmtMs(median(del.bigMs))} ms / ${fmtMs(median(del.smallMs))} ms = ${del.ratio.toFixed(2)}`, met: del.ratio <= 2 });
  return out;
}

function table(cases: CaseResult[]): string {
  const lines = [
    '| case | in flight | target | throughput req/s, median [min–max] | p50 ms | p99 ms | service ÷ this | server CPU µs/req |',
    '| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const c of cases) {
    const svc = c.targets.find((t) => t.role === 'service')!;
    for (const t of c.targets) {
      const isSvc = t.role === 'service';
      lines.push(
        `| ${isSvc ? `**${c.name}**` : ''} | ${isSvc ? c.inFlight : ''} | ${isSvc ? `**${t.label}**` : t.label} | ${fmtRate(t.rps)} [${fmtRate(t.rpsMin)}–${fmtRate(t.rpsMax)}] | ${fmtMs(t.p50)} | ${fmtMs(t.p99)} | ${isSvc ? '' : fmtRatio(svc.rps / t.rps)} | ${t.cpuUs.toFixed(0)}${t.foreign > MAX_FOREIGN ? ' †' : ''} |`,
      );
    }
  }
  return lines.join('\n');
}

function report(m: Machine, cases: CaseResult[], mem: MemoryResult | undefined, del: DeleteResult | undefined, elapsedS: number, lifecycle?: string): string {
  const parts: string[] = [];
  parts.push(
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${m.nproc} CPUs (${m.cpu}), Node ${m.node}, Redis ${m.redis}, h2load ${m.h2load}, wrk ${m.wrk}, Linux ${m.kernel}. ` +
      `${RUNS} runs of ${SECONDS} s per target after a ${WARMUP} s warm-up, targets interleaved; ${(elapsedS / 60).toFixed(1)} min in all.`,
  );
  parts.push('', table(cases));
  if (cases.some((c) => c.targets.some((t) => t.foreign > MAX_FOREIGN))) {
    parts.push(
      '',
      `† other processes on the machine (not the benchmark's) used more than ${MAX_FOREIGN} CPUs during a counted run, even after running it again: that row is disturbed.`,
    );
  }
  parts.push(
    '',
    'Server CPU µs/req: CPU time of the processes that answer (service + redis; remote gateway + service + redis; the floor and, for the floors that store, redis; the hop floor + the storage floor + redis) per request, from /proc.',
  );
  if (lifecycle) parts.push('', lifecycle);
  const loadCpu = cases.flatMap((c) => c.targets.filter((t) => t.loadCpuUs !== undefined).map((t) => `${c.name} ${c.inFlight}, ${t.role}: ${t.loadCpuUs!.toFixed(0)}`));
  if (loadCpu.length) parts.push('', `Load process (vary-load.js) CPU µs per call: ${loadCpu.join('; ')}.`);
  const dc = cases.find((c) => c.name === CURSOR_CASE && c.deep);
  if (dc?.deep) {
    const d = dc.deep;
    const offset = dc.targets.find((t) => t.role === 'offset');
    parts.push(
      '',
      `Deep cursor: one thread of ${d.messages.toLocaleString('en')} messages (written in the store's layout, lib/fill.ts). The cursor is the API's own: ` +
        `the oldest ${2 * LIST_LIMIT} (order asc, no cursor) answer the cursor of seq ${d.pageSeqs[0] + 1} as next_cursor; the page after it, newest first, ` +
        `is seqs ${d.pageSeqs[0]} … ${d.pageSeqs[1]}, with ${d.depth.toLocaleString('en')} messages newer. Against the first page (newest 25, no cursor) ` +
        `and offset ${d.offset.toLocaleString('en')}${d.offset === DEEP_OFFSET ? ' (the service\'s MAX_OFFSET, the deepest it allows)' : ' (the thread\'s deepest full page)'}` +
        `${offset ? `, ${offset.cpuUs.toFixed(0)} µs per call` : ''}. All three newest first, limit 25, on the service's gRPC port, interleaved; CPU is the service's and Redis's.`,
    );
  }
  if (mem) {
    parts.push(
      '',
      `Memory: ${mem.messages.toLocaleString('en')} CreateMessage calls (100-byte text) into one thread: used_memory grew ${(mem.usedMemoryDelta / 1e6).toFixed(1)} MB, ` +
        `${mem.bytesPerMessage.toFixed(0)} B per message; the message's JSON as the service's HTTP port returns it is ${mem.rawJsonBytes} B → ${mem.ratio.toFixed(2)} ×. ` +
        `By key (MEMORY USAGE, per message): ${Object.entries(mem.perKey)
          .map(([k, v]) => `${k} ${v.toFixed(0)} B`)
          .join(', ')}.`,
    );
  }
  if (del) {
    parts.push(
      '',
      `DeleteThread through the API: ${del.bigMessages.toLocaleString('en')} messages ${fmtMs(median(del.bigMs))} ms median [${fmtMs(min(del.bigMs))}–${fmtMs(max(del.bigMs))}] (${del.bigMs.length} runs); ` +
        `${del.smallMessages} messages ${fmtMs(median(del.smallMs))} ms [${fmtMs(min(del.smallMs))}–${fmtMs(max(del.smallMs))}] (${del.smallMs.length} runs) → ${del.ratio.toFixed(2)} ×.`,
    );
  }
  const v = verdicts(cases, mem, del);
  if (v.length) {
    parts.push('', '| target | measured | met |', '| --- | --- | --- |');
    for (const x of v) parts.push(`| ${x.target} | ${x.value} | ${x.met ? 'yes' : '**no**'} |`);
  }
  return parts.join('\n') + '\n';
}

// ---------------------------------------------------------------- main

/** The live-feed benchmark (feed.ts): its own Redis, service and load processes, after the other cases. */
const FEED_CASE = 'live feed';
/** Every load case's "<case> <in flight>", as BENCH_ONLY sees them. */
const CASE_NAMES = [
  ...METHODS.flatMap((m) => ['gRPC', 'in-process JSON', 'remote gateway'].flatMap((via) => [1, 64].map((n) => `${via} ${m} ${n}`))),
  `${CURSOR_CASE} ${CURSOR_IN_FLIGHT}`,
  `${FILTER_CASE} ${FILTER_IN_FLIGHT}`,
  ...LIFECYCLE_METHODS.flatMap((m) => [1, 64].map((n) => `gRPC ${m} ${n}`)),
  `${HALF_CASE} ${HALF_IN_FLIGHT}`,
  ...[INBOX_CASE, MARK_CASE, UNREAD_CASE].map((n) => `${n} ${READ_IN_FLIGHT}`),
];
const FEED_WANTED = !ONLY || ONLY.test(FEED_CASE);
/** The fairness benchmark (fairness.ts): its own Redis and service, after the live feed. */
const FAIRNESS_CASE = 'fairness';
const FAIRNESS_WANTED = !ONLY || ONLY.test(FAIRNESS_CASE);
/**
 * BENCH_ONLY naming the live feed or fairness and no load case (e.g. BENCH_ONLY=feed,
 * BENCH_ONLY='feed|fairness'): only those scripts run, no memory or DeleteThread measurement either.
 */
const FEED_ONLY = ONLY !== undefined && (FEED_WANTED || FAIRNESS_WANTED) && !CASE_NAMES.some((n) => ONLY.test(n));

/** Runs dist/bench/feed.js (its progress on stderr) and returns its report. */
async function runFeed(): Promise<string> {
  log(`${FEED_CASE}: node dist/bench/feed.js`);
  const t = spawnTracked(FEED_CASE, process.execPath, [join(DIST, 'bench', 'feed.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { code, signal } = await t.exited;
  if (code !== 0) throw new Error(`the live-feed benchmark (dist/bench/feed.js) exited ${code ?? signal}`);
  return t.output();
}

/** Runs dist/bench/fairness.js (its progress on stderr) and returns its report. */
async function runFairness(): Promise<string> {
  log(`${FAIRNESS_CASE}: node dist/bench/fairness.js`);
  const t = spawnTracked(FAIRNESS_CASE, process.execPath, [join(DIST, 'bench', 'fairness.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { code, signal } = await t.exited;
  if (code !== 0) throw new Error(`the fairness benchmark (dist/bench/fairness.js) exited ${code ?? signal}`);
  return t.output();
}

async function main(): Promise<void> {
  installCleanup();
  if (!FEED_ONLY) await loadCases();
  let written = !FEED_ONLY;
  for (const [wanted, run] of [
    [FEED_WANTED, runFeed],
    [FAIRNESS_WANTED, runFairness],
  ] as const) {
    if (!wanted) continue;
    const text = await run();
    process.stdout.write(text);
    mkdirSync(OUT, { recursive: true });
    // After the other cases' report, or alone.
    (written ? appendFileSync : writeFileSync)(join(OUT, 'last-run.md'), text);
    written = true;
  }
}

/** Everything but the live feed: the load cases, memory, DeleteThread, and their report. */
async function loadCases(): Promise<void> {
  const started = Date.now();
  need('h2load', 'nghttp2-client');
  need('wrk', 'wrk');
  need('redis-server', 'redis-server');
  for (const f of [join(DIST, 'src', 'main.js'), join(DIST, 'gateway', 'main.js')]) {
    try {
      execFileSync('test', ['-f', f]);
    } catch {
      throw new Error(`${f} is missing: run make build first`);
    }
  }
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  log(`starting redis-server, service (gRPC + HTTP), remote gateway and floors (${QUICK ? 'quick: ' : ''}${RUNS} × ${SECONDS} s per target, ${WARMUP} s warm-up)`);
  const env = await startAll();
  let failed: unknown;
  try {
    const rpc = new Rpc(env.grpcPort, env.token);
    await rpc.ready();
    const redisVersion = /redis_version:(\S+)/.exec(await env.redis.info('server'))?.[1] ?? '?';
    const m = machine(redisVersion);

    // Fixture: a thread to write into, a thread of 100,000 to page, 10 threads of 100 for RecentMessages.
    const createThreadId = await createThread(rpc, 'bench create');
    const listThreadId = await createThread(rpc, 'bench list');
    const recentThreadIds: string[] = [];
    for (let i = 0; i < RECENT_THREADS; i++) recentThreadIds.push(await createThread(rpc, `bench recent ${i}`));
    for (const id of recentThreadIds) await postMessages(rpc, id, 100);
    await postMessages(rpc, createThreadId, 10);
    const fixture: Fixture = { createThreadId, listThreadId, recentThreadIds };

    let mem: MemoryResult | undefined;
    if (process.env.BENCH_SKIP_MEMORY !== '1') {
      log(`memory: ${MEMORY_MESSAGES.toLocaleString('en')} CreateMessage calls into the ListMessages thread`);
      mem = await measureMemory(env, listThreadId);
      log(`  ${mem.bytesPerMessage.toFixed(0)} B per message, raw JSON ${mem.rawJsonBytes} B (${mem.ratio.toFixed(2)} ×); filled at ${fmtRate(mem.fillRps)}/s`);
    } else {
      await fillThread(env.redis, NS, listThreadId, MEMORY_MESSAGES, AUTHOR, TEXT);
    }

    const cases = await buildCases(env, fixture);
    const results: CaseResult[] = [];
    let lifecycleNotes: string | undefined;
    const runLogged = async (c: Case) => {
      log(`${c.name}, ${c.inFlight} in flight`);
      const r = await runCase(env, c);
      results.push(r);
      const svc = r.targets[0];
      log(
        '  ' +
          r.targets
            .map((t) => `${t.role} ${fmtRate(t.rps)}/s p50 ${fmtMs(t.p50)} p99 ${fmtMs(t.p99)} ${t.cpuUs.toFixed(0)} µs${t === svc ? '' : ` (${fmtRatio(svc.rps / t.rps)})`}`)
            .join(' | '),
      );
    };
    for (const c of cases) await runLogged(c);

    // Edits and deletes (issue 15): their threads are filled here and deleted after their cases.
    if (lifecycleWanted() || wanted(HALF_CASE, HALF_IN_FLIGHT)) {
      log('edit and delete cases: filling their threads');
      const lc = await prepareLifecycle(env, rpc);
      for (const c of await lifecycleCases(env, lc)) await runLogged(c);
      lifecycleNotes = lifecycleReport(lc);
      for (const t of Object.values(lc.threads)) for (const id of [t.service, t.floor]) await rpc.call(threadDef.deleteThread, { id });
      if (lc.half) for (const id of [lc.half.deletedThread, lc.half.fullThread]) await rpc.call(threadDef.deleteThread, { id });
      await waitLazyFree(env.redis);
    }

    // Inboxes and read state (issue 16): the inbox is made through the API; the two threads are filled and
    // deleted after their cases.
    let inboxNotes: string | undefined;
    if (inboxWanted() || readWanted()) {
      let rs: ReadState | undefined;
      if (inboxWanted()) {
        log(`${INBOX_CASE}: ${INBOX_CHATS.toLocaleString('en')} chats through the API`);
        const t0 = Date.now();
        await prepareInbox(rpc);
        log(`  made in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        await runLogged(await inboxCase(env));
      }
      if (readWanted()) {
        log(`read-state cases: threads of ${READ_BIG.toLocaleString('en')} and ${READ_SMALL.toLocaleString('en')} messages`);
        rs = await prepareRead(env, rpc);
        for (const c of await readCases(env, rs)) await runLogged(c);
        for (const t of [rs.big, rs.small]) await rpc.call(threadDef.deleteThread, { id: t.threadId });
        await waitLazyFree(env.redis);
      }
      inboxNotes = inboxReport(rs, inboxWanted());
    }

    if (wanted(FILTER_CASE, FILTER_IN_FLIGHT)) {
      log(`${FILTER_CASE}: ${FILTER_THREADS.toLocaleString('en')} threads in one group, the participant in ${FILTER_MEMBER_OF}`);
      const t0 = Date.now();
      await prepareFilter(rpc);
      log(`  created in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await waitAofQuiet(env.redis);
      await runLogged(await filterCase(env));
    }

    // Last of the load cases, so that its big thread is in Redis during no other case; deleted after it.
    if (wanted(CURSOR_CASE, CURSOR_IN_FLIGHT)) {
      log(`${CURSOR_CASE}: a thread of ${CURSOR_MESSAGES.toLocaleString('en')} messages and a cursor at its oldest end`);
      const d = await prepareDeepCursor(env, rpc);
      log(`  cursor of seq ${d.pageSeqs[0] + 1}: the page after it, newest first, is seqs ${d.pageSeqs[0]} … ${d.pageSeqs[1]} (${d.depth.toLocaleString('en')} newer)`);
      await runLogged(await cursorCase(env, d));
      await rpc.call(threadDef.deleteThread, { id: d.threadId });
      await waitLazyFree(env.redis);
    }

    let del: DeleteResult | undefined;
    if (process.env.BENCH_SKIP_DELETE !== '1') {
      log(`DeleteThread: ${BIG.toLocaleString('en')} messages against 10`);
      del = await measureDelete(env);
      log(`  ${fmtMs(median(del.bigMs))} ms against ${fmtMs(median(del.smallMs))} ms (${del.ratio.toFixed(2)} ×)`);
    }
    rpc.close();

    const text = report(m, results, mem, del, (Date.now() - started) / 1000, [lifecycleNotes, inboxNotes].filter(Boolean).join('\n\n') || undefined);
    process.stdout.write('\n' + text);
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'last-run.md'), text);
    writeFileSync(join(OUT, 'last-run.json'), JSON.stringify({ machine: m, settings: { QUICK, SECONDS, WARMUP, RUNS }, cases: results, memory: mem, delete: del }, null, 2));
    log(`written to ${join(OUT, 'last-run.md')} and last-run.json`);
  } catch (e) {
    failed = e;
  } finally {
    env.redis.disconnect();
    // The servers first (the service and the floors use Redis), Redis last.
    for (const k of ['gateway', 'expressHop', 'expressStorage', 'expressFixed', 'bareStorage', 'bareFixed', 'alt', 'service', 'redis']) {
      if (env.procs[k]) await stop(env.procs[k]);
    }
    await stopAll();
    cleanupLoadFiles();
    rmSync(env.dir, { recursive: true, force: true });
  }
  if (failed) throw failed;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void stopAll().finally(() => process.exit(1));
  },
);
