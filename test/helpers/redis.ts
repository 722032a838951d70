/**
 * A real redis-server for one test file: a free port on 127.0.0.1, files in a
 * fresh temp folder, no persistence; stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForRedis } from '../../src/store/embedded';

export interface TestRedis {
  url: string;
  port: number;
  child: ChildProcess;
  dir: string;
  /** A plain client for assertions on raw state. */
  client(): Redis;
  stop(): Promise<void>;
}

export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', ...extraArgs],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(port, 10_000, () => (child.exitCode !== null ? `redis-server exited with ${child.exitCode}` : undefined));
  const clients: Redis[] = [];
  return {
    url,
    port,
    child,
    dir,
    client() {
      const c = new Redis(url);
      clients.push(c);
      return c;
    },
    async stop() {
      clients.forEach((c) => c.disconnect());
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((done) => {
          child.once('exit', () => done());
          child.kill('SIGKILL');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
