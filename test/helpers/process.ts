/**
 * The built service (dist/src/main.js) as a child process, as `make start`
 * runs it. Its JSON log lines are collected; start() resolves once it listens.
 * `npm run build` (part of `make test`) must have run first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/**
 * Where the service scripts are taken from: this checkout, or PARLEY_BUILD_ROOT,
 * another checkout's built tree (to see a process test fail on an older commit:
 * `git archive <commit> | tar -x -C /tmp/old`, link node_modules, `npm run build` there).
 */
const BUILD_ROOT = process.env.PARLEY_BUILD_ROOT ?? ROOT;

export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  /** The JSON transport's port (the service's "gRPC server listening" line carries it). */
  httpPort?: number;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** Raw stdout and stderr text. */
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<number | string>;
}

/** Every process started here that has not exited: a test that fails before its stop() leaves none behind. */
const running = new Set<{ child: ChildProcess; exited: Promise<unknown> }>();
afterAll(async () => {
  await Promise.all(
    [...running].map(async (p) => {
      // SIGTERM first, so the service stops its own embedded redis-server; SIGKILL if it hangs.
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
      await p.exited;
      clearTimeout(timer);
    }),
  );
});

/**
 * `opts.maxFiles` runs the script under `ulimit -n` (a shell sets it, then
 * execs node, so the pid is node's): fd floods stay small in tests.
 * `opts.detached` gives it a process group of its own, so a process that
 * signals its own group cannot reach the test runner. `opts.sentinel` starts
 * a `sleep` in that group first (the service's child, `sentinelPid`): it is
 * still alive only if nothing signalled the whole group.
 */
export function startProcess(
  script: string,
  env: Record<string, string>,
  readyMsg: string,
  timeoutMs = 20_000,
  opts: { maxFiles?: number; detached?: boolean; sentinel?: boolean } = {},
): Promise<ServiceProcess> {
  const shell = [opts.maxFiles === undefined ? '' : `ulimit -n ${opts.maxFiles} && `, opts.sentinel ? 'sleep 600 & ' : ''].join('');
  const [cmd, args] =
    shell === ''
      ? [process.execPath, [join(BUILD_ROOT, script)]]
      : ['/bin/sh', ['-c', `${shell}exec "$0" "$1"`, process.execPath, join(BUILD_ROOT, script)]];
  const child = spawn(cmd, args, {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', METRICS_PORT: '0', HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  const logs: Record<string, unknown>[] = [];
  let raw = '';
  let buf = '';
  const exited = new Promise<number | string>((res) => child.once('exit', (code, sig) => res(code ?? sig ?? -1)));
  const entry = { child, exited };
  running.add(entry);
  void exited.then(() => running.delete(entry));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not log "${readyMsg}" within ${timeoutMs} ms:\n${raw}`));
    }, timeoutMs);
    child.stderr!.on('data', (d: Buffer) => (raw += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      raw += d.toString();
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === readyMsg) {
            clearTimeout(timer);
            resolve({
              child,
              port: entry.port as number,
              httpPort: entry.httpPort as number | undefined,
              logs,
              output: () => raw,
              exited,
              stop: () => {
                child.kill('SIGTERM');
                return exited;
              },
            });
          }
        } catch {
          // Not a log line (e.g. the one-time printed key banner).
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready:\n${raw}`));
    });
  });
}

export const startService = (env: Record<string, string>) => startProcess('dist/src/main.js', env, 'gRPC server listening');
