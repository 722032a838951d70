/**
 * Fairness (README "Hardening", issue 12): one namespace floods the most
 * expensive reads it is allowed while another namespace's ReadThread is
 * timed. The figure is the light namespace's p99 under the flood over its p99
 * without it, both measured in the same run, window after window; the target
 * is at most 5 ×.
 *
 *   node dist/bench/fairness.js        # or: BENCH_ONLY=fairness make bench
 *
 * Starts its own redis-server and service (lib/stack.ts; the service with its
 * default NAMESPACE_READS_*), fills one thread of the heavy namespace with
 * 250 messages of 16 KiB (a ListMessages of them is a 4 MiB reply, just
 * under MAX_REPLY_BYTES), and per run:
 *
 * 1. unloaded: the light namespace's ReadThread, one call at a time, from this
 *    process, for BENCH_FAIRNESS_SECONDS;
 * 2. loaded: the same while h2load (its own process, C: the flood's replies
 *    cost this process nothing) keeps 16 ListMessages of those 4 MiB pages in
 *    flight on 16 connections.
 *
 * BENCH_FAIRNESS_SERVICES: a comma list of services to measure side by side
 * (each its own process on the same Redis, interleaved run by run), each a
 * build's dist/src/main.js with optional settings after `|`:
 * `dist/src/main.js|NAMESPACE_READS_IN_FLIGHT=4;NAMESPACE_READS_QUEUED=8`;
 * default this build as configured. BENCH_FAIRNESS_ENV: `K=V,K=V` given to every service. A run during which other
 * processes used more than BENCH_MAX_FOREIGN_CORES is run again (lib/cpu.ts).
 * BENCH_CPU_PROF=<folder>: each service writes a V8 CPU profile there.
 * Prints the report on stdout and writes <BENCH_OUT>/fairness-last-run.md / .json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ThreadsService } from '../test/gen/threads/threads';
import { runQuiet, type RetryBudget } from './lib/cpu';
import { grpcFrame } from './lib/load';
import { installCleanup, runTool, stopAll } from './lib/procs';
import { Rpc } from './lib/rpc';
import { envNumber } from './lib/settings';
import { serviceReady, startRedis, startService, type ServiceProc } from './lib/stack';
import { fmtMs, median, percentileSorted } from './lib/stats';

const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = envNumber('BENCH_FAIRNESS_RUNS', QUICK ? 1 : 3);
const SECONDS = envNumber('BENCH_FAIRNESS_SECONDS', QUICK ? 2 : 5);
const MAX_FOREIGN = envNumber('BENCH_MAX_FOREIGN_CORES', 0.15);
const OUT = resolve(process.env.BENCH_OUT ?? join(DIST, 'bench'));
/** `K=V<sep>K=V` as an object. */
const envOf = (text: string, sep: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split(sep)
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1).trim()]),
  );
const EXTRA_ENV = envOf(process.env.BENCH_FAIRNESS_ENV ?? '', ',');
/** The services measured side by side: `<main.js>[|K=V;K=V]` each, comma-separated. */
const SERVICES = (process.env.BENCH_FAIRNESS_SERVICES ?? join(DIST, 'src', 'main.js')).split(',').map((entry) => {
  const [path, env = ''] = entry.split('|');
  const own = envOf(env, ';');
  const label = `${resolve(path.trim()).replace(ROOT + '/', '')}${Object.keys(own).length ? ` ${Object.entries(own).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`;
  return { main: resolve(path.trim()), env: { ...EXTRA_ENV, ...own }, label };
});
/** A folder: each service writes a V8 CPU profile there on exit (bench/profile-top.ts reads it). */
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const retryBudget: RetryBudget = { seconds: envNumber('BENCH_RETRY_BUDGET_SECONDS', QUICK ? 10 : 120) };

const HEAVY = { ns: 'heavy', token: 'bench-fairness-heavy-token-0001' };
const LIGHT = { ns: 'light', token: 'bench-fairness-light-token-0002' };
const PAGE = 250;
const TEXT_BYTES = 16 * 1024;
const FLOOD_CONNECTIONS = 16;
const TARGET = 5;

/** A full request of `def`'s type: proto3 defaults, then `fields`. */
function req<T>(def: { requestDeserialize(b: Buffer): T }, fields: Partial<T>): T {
  return { ...def.requestDeserialize(Buffer.alloc(0)), ...fields };
}

const log = (s: string) => process.stderr.write(`[fairness] ${s}\n`);

interface Window {
  p50: number;
  p99: number;
  calls: number;
  errors: number;
}

/** ReadThread of the light namespace, one at a time, for `seconds`. */
async function timeReads(rpc: Rpc, id: string, seconds: number): Promise<Window> {
  const ms: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      await rpc.call(ThreadsService.readThread, req(ThreadsService.readThread, { id }));
      ms.push(performance.now() - t0);
    } catch {
      errors++;
    }
  }
  const sorted = Float64Array.from(ms).sort();
  return { p50: percentileSorted(sorted, 50), p99: percentileSorted(sorted, 99), calls: ms.length, errors };
}

/**
 * h2load keeping FLOOD_CONNECTIONS ListMessages of the big page in flight for `seconds`. h2load
 * cannot read gRPC statuses: pages answered are its DATA bytes over a page's size, and the rest of
 * its requests were refused (RATE_LIMITED, trailers only, no DATA).
 */
async function flood(port: number, body: Buffer, file: string, seconds: number): Promise<{ requests: number; dataBytes: number }> {
  writeFileSync(file, body);
  const r = await runTool('h2load', 'h2load', [
    '-c', String(FLOOD_CONNECTIONS), '-m', '1', '-t', '1', '-D', `${Math.round(seconds * 1000)}ms`, '-d', file,
    '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-H', `authorization: Bearer ${HEAVY.token}`,
    `http://127.0.0.1:${port}/threads.Threads/ListMessages`,
  ], (seconds + 30) * 1000);
  const done = /requests: \d+ total, \d+ started, (\d+) done/.exec(r.stdout);
  const data = /\(\d+\) headers \(space savings [^)]*\), [\d.]+\w*B? \((\d+)\) data/.exec(r.stdout);
  if (r.code !== 0 || !done || !data) throw new Error(`h2load exited ${r.code}: ${r.stderr || r.stdout}`);
  if (process.env.BENCH_FAIRNESS_DEBUG) log(r.stdout);
  return { requests: Number(done[1]), dataBytes: Number(data[1]) };
}

interface RunResult {
  service: string;
  unloaded: Window;
  loaded: Window;
  floodPages: number;
  floodRefused: number;
  foreignCores: number;
}

async function main(): Promise<void> {
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-fair-'));
  // Disconnected in `finally` too: a service that fails to start must not leave the runner held open by it.
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  try {
    redis = await startRedis(dir);
    const services: ServiceProc[] = [];
    for (const [i, svc] of SERVICES.entries()) {
      services.push(
        await startService(`service ${i + 1}`, {
          main: svc.main,
          redisUrl: redis.url,
          apiKeys: `${HEAVY.ns}:${HEAVY.token},${LIGHT.ns}:${LIGHT.token}`,
          dataDir: join(dir, `data-${i}`),
          env: svc.env,
          nodeArgs: CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [],
        }),
      );
    }
    for (const s of services) await serviceReady(s);

    // The fixture, through the first service.
    const heavy = new Rpc(services[0].grpcPort, HEAVY.token);
    const light0 = new Rpc(services[0].grpcPort, LIGHT.token);
    const big = (await heavy.call(ThreadsService.createThread, req(ThreadsService.createThread, { groupId: 'g', topic: 'big' }))).reply.thread!.id;
    const text = 'x'.repeat(TEXT_BYTES);
    for (let i = 0; i < PAGE; i += 25) {
      await Promise.all(Array.from({ length: 25 }, () => heavy.call(ThreadsService.createMessage, req(ThreadsService.createMessage, { threadId: big, authorId: 'a', text }))));
    }
    const small = (await light0.call(ThreadsService.createThread, req(ThreadsService.createThread, { groupId: 'g', topic: 'small' }))).reply.thread!.id;
    const page = await heavy.call(ThreadsService.listMessages, req(ThreadsService.listMessages, { threadId: big, limit: String(PAGE) }));
    log(`fixture: a page of ${page.reply.messages.length} messages is ${(page.bytes / 1048576).toFixed(2)} MiB`);
    heavy.close();
    light0.close();
    const body = grpcFrame(
      ThreadsService.listMessages.requestSerialize(req(ThreadsService.listMessages, { threadId: big, limit: String(PAGE) })),
    );

    const lights = services.map((s) => new Rpc(s.grpcPort, LIGHT.token));
    for (const l of lights) for (let i = 0; i < 200; i++) await l.call(ThreadsService.readThread, req(ThreadsService.readThread, { id: small }));
    const pids = Object.fromEntries([['redis', redis.proc.child.pid!], ...services.map((s) => [s.proc.name, s.proc.child.pid!])]);
    const results: RunResult[] = [];
    for (let run = 0; run < RUNS; run++) {
      for (const [i, s] of services.entries()) {
        const q = await runQuiet(
          pids,
          async () => {
            const unloaded = await timeReads(lights[i], small, SECONDS);
            // The flood starts, and is given half a second to fill the namespace's slots and queue.
            const floodDone = flood(s.grpcPort, body, join(dir, 'body.bin'), SECONDS + 1);
            await new Promise((r) => setTimeout(r, 500));
            const loaded = await timeReads(lights[i], small, SECONDS);
            const f = await floodDone;
            return { unloaded, loaded, floodPages: Math.round(f.dataBytes / page.bytes), floodRefused: f.requests - Math.round(f.dataBytes / page.bytes) };
          },
          {
            maxForeign: MAX_FOREIGN,
            budget: retryBudget,
            costSeconds: 2 * SECONDS + 1,
            onDisturbed: (f, again) => log(`run ${run + 1} ${s.proc.name}: other processes used ${f.toFixed(2)} cores${again ? ', running it again' : ', kept'}`),
          },
        );
        const r = { service: SERVICES[i].label, ...q.result, foreignCores: q.foreign };
        results.push(r);
        log(`run ${run + 1} ${s.proc.name}: p99 ${fmtMs(r.unloaded.p99)} → ${fmtMs(r.loaded.p99)} (${(r.loaded.p99 / r.unloaded.p99).toFixed(1)} ×), ${r.floodPages} pages, ${r.floodRefused} refused`);
      }
    }
    lights.forEach((l) => l.close());

    const lines = [
      '## Fairness',
      '',
      `The light namespace's ReadThread (one call at a time) without and with the heavy namespace's flood: ${FLOOD_CONNECTIONS} ListMessages of ${PAGE} × 16 KiB (${(page.bytes / 1048576).toFixed(2)} MiB) in flight (h2load), ${SECONDS} s windows, ${RUNS} run(s) per service${Object.keys(EXTRA_ENV).length ? `, service env ${JSON.stringify(EXTRA_ENV)}` : ''}. Target: loaded p99 ≤ ${TARGET} × unloaded p99, no errors.`,
      '',
      '| service | unloaded p50 / p99 | loaded p50 / p99 | p99 ratio (median of runs) [runs] | errors | flood pages/s | met |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const { label: svc } of SERVICES) {
      const rs = results.filter((r) => r.service === svc);
      const ratios = rs.map((r) => r.loaded.p99 / r.unloaded.p99);
      const ratio = median(ratios);
      const errors = rs.reduce((a, r) => a + r.unloaded.errors + r.loaded.errors, 0);
      lines.push(
        `| ${svc} | ${fmtMs(median(rs.map((r) => r.unloaded.p50)))} / ${fmtMs(median(rs.map((r) => r.unloaded.p99)))} | ${fmtMs(median(rs.map((r) => r.loaded.p50)))} / ${fmtMs(median(rs.map((r) => r.loaded.p99)))} | ${ratio.toFixed(1)} × [${ratios.map((x) => x.toFixed(1)).join(', ')}] | ${errors} | ${median(rs.map((r) => r.floodPages / (SECONDS + 1))).toFixed(0)} | ${ratio <= TARGET && errors === 0 ? 'yes' : 'no'} |`,
      );
    }
    const text2 = lines.join('\n') + '\n';
    process.stdout.write(text2);
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'fairness-last-run.md'), text2);
    writeFileSync(join(OUT, 'fairness-last-run.json'), JSON.stringify(results, null, 2));
  } finally {
    redis?.redis.disconnect();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
