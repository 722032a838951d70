/**
 * Every process the benchmark starts goes through here, so that all of them
 * are stopped by their PID at the end, also when a step fails or the run is
 * interrupted (SIGINT/SIGTERM). Nothing is ever stopped by name.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { request } from 'node:http';

export interface Tracked {
  name: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr (and stdout unless piped elsewhere), last 64 KiB. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Tracked>();

export function spawnTracked(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Tracked {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString();
    if (out.length > 65536) out = out.slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(t);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      running.delete(t);
      resolve({ code: -1, signal: null });
    });
  });
  const t: Tracked = { name, child, output: () => out, exited };
  running.add(t);
  return t;
}

/** SIGTERM by PID, SIGKILL after `graceMs`. */
export async function stop(t: Tracked, graceMs = 5000): Promise<void> {
  const pid = t.child.pid;
  if (pid === undefined || t.child.exitCode !== null || t.child.signalCode !== null) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, graceMs);
  await t.exited;
  clearTimeout(timer);
}

/** Stops every process still running, newest first (servers before the Redis they use). */
export async function stopAll(): Promise<void> {
  const all = [...running].reverse();
  for (const t of all) await stop(t);
}

/** Synchronous last resort (process 'exit'): SIGKILL by PID whatever is left. */
export function killAllNow(): void {
  for (const t of running) {
    if (t.child.pid !== undefined) {
      try {
        process.kill(t.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

let hooked = false;
/** Stops everything on SIGINT/SIGTERM and on exit. */
export function installCleanup(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping the benchmark's processes\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` resolves true, failing early when the process exits. */
export async function waitUntil(what: string, t: Tracked | undefined, check: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (t && (t.child.exitCode !== null || t.child.signalCode !== null)) {
      throw new Error(`${t.name} exited (${t.child.exitCode ?? t.child.signalCode}) while waiting for ${what}:\n${t.output()}`);
    }
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${t ? `\n${t.output()}` : ''}`);
}

export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const r = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.once('error', () => resolve(0));
    r.end();
  });
}

/** Runs a command to completion, capturing stdout and stderr. */
export async function runTool(name: string, cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const t: Tracked = {
    name,
    child,
    output: () => '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  running.add(t);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => void stop(t, 1000), timeoutMs);
  const spawnError = new Promise<{ code: number | null }>((resolve) =>
    child.once('error', (err) => {
      stderr += `spawn error: ${err.message}`;
      resolve({ code: -1 });
    }),
  );
  const { code } = await Promise.race([t.exited, spawnError]);
  clearTimeout(timer);
  running.delete(t);
  return { code, stdout, stderr };
}
