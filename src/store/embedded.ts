/**
 * The embedded store: with REDIS_URL unset the service runs its own
 * redis-server as a child, with its files in DATA_DIR and append-only
 * persistence on (fsync every second; Redis writes the AOF before it replies,
 * so a killed Redis process loses no acknowledged write). It listens on a unix
 * socket in DATA_DIR (a 0700 folder) and on no TCP port, so only this user can
 * reach it, also if it outlives a service that was killed (the next start on
 * that DATA_DIR stops it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../log';

export interface EmbeddedRedis {
  /** The unix socket redis-server listens on. */
  socket: string;
  /** The current redis-server process (a new one after each restart). */
  child(): ChildProcess;
  /** No more restarts from now on (a stop is under way: a restart now would outlive the service). */
  noRestarts(): void;
  /** Stops it for good (no more restarts). */
  stop(): Promise<void>;
}

/** Unix socket paths are limited to 108 bytes by the kernel (sun_path), the terminating NUL included. */
const MAX_SOCKET_PATH = 107;

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface EmbeddedOptions {
  dataDir: string;
  bin: string;
  log: Logger;
  /** Extra redis-server arguments (tests turn persistence off). */
  extraArgs?: string[];
}

/**
 * Starts redis-server and keeps it running: if it dies (crash, OOM kill),
 * it is started again on the same socket from the same DATA_DIR, so the
 * append-only file brings every acknowledged write back and the client
 * reconnects by itself. Meanwhile calls answer UNAVAILABLE.
 */
export async function startEmbeddedRedis(opts: EmbeddedOptions): Promise<EmbeddedRedis> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // The folder's mode guards the socket: only this user can reach Redis.
  chmodSync(opts.dataDir, 0o700);
  const pidFile = join(opts.dataDir, 'redis.pid');
  stopLeftover(pidFile, opts.log);
  const socket = join(opts.dataDir, 'redis.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new Error(`DATA_DIR is too long for the embedded Redis's unix socket (${socket}: at most ${MAX_SOCKET_PATH} bytes); choose a shorter DATA_DIR`);
  }
  const args = [
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--protected-mode', 'yes',
    '--dir', opts.dataDir,
    '--pidfile', pidFile,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    '--logfile', join(opts.dataDir, 'redis.log'),
    ...(opts.extraArgs ?? []),
  ];
  let stopping = false;
  let child = await launch(opts, args, socket);
  opts.log.info({ socket, dataDir: opts.dataDir, redisPid: child.pid }, 'embedded redis-server started');

  const supervise = (c: ChildProcess) => {
    c.once('exit', (code, signal) => {
      if (stopping) return;
      opts.log.error({ code, signal }, 'embedded redis-server died; restarting it from DATA_DIR');
      void restart(1);
    });
  };
  const restart = async (attempt: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** (attempt - 1), 5000)));
    if (stopping) return;
    try {
      child = await launch(opts, args, socket);
      // A stop that came while this one was starting would otherwise leave it running.
      if (stopping) {
        await stopChild(child);
        return;
      }
      supervise(child);
      opts.log.warn({ socket, redisPid: child.pid, attempt }, 'embedded redis-server restarted');
    } catch (err) {
      opts.log.error({ err: String(err), attempt }, 'embedded redis-server did not restart; trying again');
      await restart(attempt + 1);
    }
  };
  supervise(child);

  return {
    socket,
    child: () => child,
    noRestarts: () => {
      stopping = true;
    },
    stop: () => {
      stopping = true;
      return stopChild(child);
    },
  };
}

async function launch(opts: EmbeddedOptions, args: string[], socket: string): Promise<ChildProcess> {
  const child = spawn(opts.bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // A spawn that fails (a missing binary, EMFILE) is reported as an event, not a throw,
  // and leaves child.pid undefined.
  let spawnError: string | undefined;
  child.on('error', (e) => (spawnError = `${opts.bin}: ${e.message}`));
  if (child.pid === undefined) {
    await new Promise((r) => setImmediate(r));
    throw new Error(`redis-server failed to start: ${spawnError ?? 'the process could not be spawned'}`);
  }
  try {
    await waitForRedis(socket, child.pid, 60_000, () =>
      child.exitCode !== null || spawnError ? `redis-server failed to start: ${(spawnError ?? stderr.trim()) || `exit ${child.exitCode}`}` : undefined,
    );
  } catch (e) {
    signal(child, 'SIGKILL');
    throw e;
  }
  return child;
}

/**
 * Signals a child only while we hold its pid: a child that was never spawned
 * has none, and ChildProcess#kill would then signal pid 0, our whole process group.
 */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill(sig);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => signal(child, 'SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    // SIGTERM: redis-server flushes the AOF and exits.
    signal(child, 'SIGTERM');
  });
}

/** A redis-server of an earlier run that died with its parent would hold DATA_DIR's files: stop it. */
function stopLeftover(pidFile: string, log: Logger): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmd.includes('redis-server')) return;
    process.kill(pid, 'SIGTERM');
    log.warn({ pid }, 'stopped a redis-server left over from an earlier run on this DATA_DIR');
    const until = Date.now() + 10_000;
    while (Date.now() < until && existsSync(`/proc/${pid}`)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  } catch {
    // No such process: nothing to stop.
  }
}

/**
 * Waits until the redis-server with process id `pid` answers on `at` (a port
 * on 127.0.0.1, or a unix socket path): PING with PONG (not LOADING), and
 * INFO names that pid, so another Redis that happens to hold the port is
 * never taken for ours. Raw sockets, so no client library keeps retry timers behind.
 */
export async function waitForRedis(
  at: number | string,
  pid: number | undefined,
  timeoutMs: number,
  failed: () => string | undefined = () => undefined,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const why = failed();
    if (why) throw new Error(why);
    const answer = await probe(at);
    if (answer.ready) {
      if (pid === undefined || answer.pid === pid) return;
      throw new Error(`${where(at)} is held by another redis-server (pid ${answer.pid}), not ours (pid ${pid})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer on ${where(at)} within ${timeoutMs} ms`);
}

const where = (at: number | string) => (typeof at === 'number' ? `127.0.0.1:${at}` : at);

function probe(at: number | string): Promise<{ ready: boolean; pid?: number }> {
  return new Promise((res) => {
    const s = new Socket();
    let reply = '';
    const done = (ready: boolean, pid?: number) => {
      s.destroy();
      res({ ready, pid });
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.on('data', (d) => {
      reply += d.toString();
      if (reply.startsWith('-')) return done(false); // LOADING or another error: not ready yet
      const m = /process_id:(\d+)\r\n/.exec(reply);
      if (reply.startsWith('+PONG\r\n') && m) done(true, Number(m[1]));
    });
    const ask = () => s.write('PING\r\nINFO server\r\n');
    if (typeof at === 'number') s.connect(at, '127.0.0.1', ask);
    else s.connect(at, ask);
  });
}
