/**
 * The C load generators: h2load (nghttp2-client) for gRPC, wrk for HTTP/1.1.
 * Each run returns throughput and latency percentiles; a run whose answers are
 * not all successes is an error, not a number.
 *
 * h2load knows HTTP/2 only, not gRPC: a gRPC failure is still HTTP 200 with a
 * grpc-status trailer and (trailers-only) no DATA. So every gRPC run also
 * checks the DATA bytes per response against the size of a known good answer
 * (`minDataBytes`); the runner additionally probes each case with a real
 * client and, for writes, checks the stored count moved by the number of
 * requests h2load reports.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentileSorted } from './stats';
import { runTool } from './procs';

export interface RunResult {
  /** Completed successful requests per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
}

let scratch: string | undefined;
function tmp(): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'parley-bench-load-'));
  return scratch;
}
export function cleanupLoadFiles(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** A gRPC length-prefixed message: flag 0, 4-byte big-endian length, the protobuf bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b.writeUInt8(0, 0);
  b.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(b, 5);
  return b;
}

let fileSeq = 0;

export interface H2Target {
  port: number;
  /** e.g. /threads.Threads/CreateMessage */
  path: string;
  /** the gRPC-framed request */
  body: Buffer;
  token: string;
  /** Smallest DATA bytes a successful answer carries (frame header included). */
  minDataBytes: number;
}

/** `inFlight` streams in total, spread over `clients` connections. */
export async function h2load(t: H2Target, opts: { seconds?: number; requests?: number; inFlight: number; clients: number }): Promise<RunResult> {
  const dir = tmp();
  const bodyFile = join(dir, `body-${++fileSeq}.bin`);
  const logFile = join(dir, `log-${fileSeq}.tsv`);
  writeFileSync(bodyFile, t.body);
  const clients = Math.min(opts.clients, opts.inFlight);
  const streams = Math.ceil(opts.inFlight / clients);
  const args = [
    '-c', String(clients),
    '-m', String(streams),
    '-t', '1',
    ...(opts.seconds !== undefined ? ['-D', `${Math.round(opts.seconds * 1000)}ms`] : ['-n', String(opts.requests)]),
    '-d', bodyFile,
    '--log-file', logFile,
    '-H', 'content-type: application/grpc',
    '-H', 'te: trailers',
    '-H', `authorization: Bearer ${t.token}`,
    `http://127.0.0.1:${t.port}${t.path}`,
  ];
  const budget = ((opts.seconds ?? 120) + 30) * 1000;
  const r = await runTool('h2load', 'h2load', args, budget);
  try {
    if (r.code !== 0) throw new Error(`h2load exited ${r.code}: ${r.stderr || r.stdout}`);
    const done = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(r.stdout);
    const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout);
    const data = /\(\d+\) headers \(space savings [^)]*\), [\d.]+\w*B? \((\d+)\) data/.exec(r.stdout);
    if (!done || !status || !data) throw new Error(`cannot read h2load output:\n${r.stdout}`);
    const succeeded = Number(done[4]);
    const failed = Number(done[5]) + Number(done[6]) + Number(done[7]);
    if (failed > 0 || Number(status[3]) + Number(status[4]) > 0) {
      throw new Error(`h2load ${t.path}: ${failed} failed, ${status[3]} 4xx, ${status[4]} 5xx\n${r.stdout}`);
    }
    if (succeeded === 0) throw new Error(`h2load ${t.path}: no request succeeded\n${r.stdout}`);
    const perResponse = Number(data[1]) / succeeded;
    if (perResponse < t.minDataBytes) {
      throw new Error(
        `h2load ${t.path}: ${perResponse.toFixed(1)} DATA bytes per response, a good answer has ≥ ${t.minDataBytes}: some calls failed at the gRPC level`,
      );
    }
    // Per-request log: start µs, status, duration µs (one worker thread: ordered by end).
    const lat: number[] = [];
    let first = Infinity;
    let last = -Infinity;
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line) continue;
      const [start, code, dur] = line.split('\t');
      if (code !== '200') continue;
      const s = Number(start);
      const d = Number(dur);
      lat.push(d);
      if (s < first) first = s;
      if (s + d > last) last = s + d;
    }
    const sorted = Float64Array.from(lat).sort();
    const spanUs = last - first;
    return {
      rps: opts.seconds !== undefined ? succeeded / opts.seconds : (lat.length / spanUs) * 1e6,
      p50Ms: percentileSorted(sorted, 50) / 1000,
      p99Ms: percentileSorted(sorted, 99) / 1000,
      requests: succeeded,
    };
  } finally {
    rmSync(bodyFile, { force: true });
    rmSync(logFile, { force: true });
  }
}

export interface HttpTarget {
  port: number;
  path: string;
  /** JSON body */
  body: string;
  token: string;
}

const luaString = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal for ASCII

/** wrk with `inFlight` connections (HTTP/1.1 keep-alive, one request in flight each). */
export async function wrk(t: HttpTarget, opts: { seconds: number; inFlight: number }): Promise<RunResult> {
  if (!/^[\x20-\x7e]*$/.test(t.body)) throw new Error('wrk bodies must be printable ASCII');
  const script = join(tmp(), `wrk-${++fileSeq}.lua`);
  writeFileSync(
    script,
    [
      'wrk.method = "POST"',
      `wrk.body = ${luaString(t.body)}`,
      'wrk.headers["Content-Type"] = "application/json"',
      `wrk.headers["Authorization"] = ${luaString(`Bearer ${t.token}`)}`,
      'function done(summary, latency, requests)',
      '  local e = summary.errors',
      '  io.write(string.format("BENCHJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"bytes\\":%d,\\"status\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"timeout\\":%d,\\"p50\\":%d,\\"p99\\":%d}\\n",',
      '    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,',
      '    latency:percentile(50), latency:percentile(99)))',
      'end',
      '',
    ].join('\n'),
  );
  const threads = 1;
  const seconds = Math.max(1, Math.round(opts.seconds)); // wrk takes whole seconds
  const args = ['-t', String(threads), '-c', String(opts.inFlight), '-d', `${seconds}s`, '--timeout', '10s', '-s', script, `http://127.0.0.1:${t.port}${t.path}`];
  const r = await runTool('wrk', 'wrk', args, (seconds + 30) * 1000);
  rmSync(script, { force: true });
  const m = /BENCHJSON (\{.*\})/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`wrk exited ${r.code}: ${r.stderr}\n${r.stdout}`);
  const j = JSON.parse(m[1]) as Record<string, number>;
  const errors = j.status + j.connect + j.read + j.write + j.timeout;
  if (errors > 0) throw new Error(`wrk ${t.path}: ${j.status} non-2xx, ${j.connect + j.read + j.write} socket errors, ${j.timeout} timeouts\n${r.stdout}`);
  if (j.requests === 0) throw new Error(`wrk ${t.path}: no request completed\n${r.stdout}`);
  return { rps: j.requests / (j.duration_us / 1e6), p50Ms: j.p50 / 1000, p99Ms: j.p99 / 1000, requests: j.requests };
}
