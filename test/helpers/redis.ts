/**
 * A real redis-server for one test file: a free port on 127.0.0.1, files in a
 * fresh temp folder, no persistence; stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitForRedis } from '../../src/store/embedded';
import { workerPort } from './ports';

export interface TestRedis {
  url: string;
  port: number;
  /** The current process (a new one after restart()). */
  child: ChildProcess;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts redis-server again on the same port and folder (its AOF, if on, is replayed). */
  restart(): Promise<void>;
  dir: string;
  /** A plain client for assertions on raw state. */
  client(): Redis;
  stop(): Promise<void>;
}

export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
  const launchOn = async (port: number) => {
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', ...extraArgs];
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    try {
      // Our pid must answer: another file's Redis that took the port is never mistaken for this one.
      await waitForRedis(port, c.pid, 20_000, () => (c.exitCode !== null ? `redis-server exited with ${c.exitCode} (port ${port} taken?)` : undefined));
    } catch (e) {
      c.kill('SIGKILL');
      throw e;
    }
    return c;
  };
  // A port free a moment ago can be taken by another test file's Redis before ours binds it: try another.
  let port = 0;
  let first: ChildProcess | undefined;
  for (let attempt = 1; !first; attempt++) {
    port = await workerPort();
    try {
      first = await launchOn(port);
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
  let child: ChildProcess = first;
  const launch = () => launchOn(port);
  const kill = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGKILL');
    });
  const url = `redis://127.0.0.1:${port}`;
  const clients: Redis[] = [];
  return {
    url,
    port,
    get child() {
      return child;
    },
    kill,
    async restart() {
      await kill();
      child = await launch();
    },
    dir,
    client() {
      const c = new Redis(url);
      clients.push(c);
      return c;
    },
    async stop() {
      // Only open ones: ioredis arms a 2 s timer when a closed client is disconnected again.
      clients.splice(0).forEach((c) => c.status !== 'end' && c.disconnect());
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
