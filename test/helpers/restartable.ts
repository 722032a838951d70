/**
 * The built service as a child process on a fixed port of its own, over a
 * given Redis, that a test can SIGKILL and start again on the same port (a
 * crash and a restart, as a supervisor would). Every process started is
 * remembered, so stopAll() ends each one by its PID, also after a failure.
 */
import type { ChildProcess } from 'node:child_process';
import { workerPort } from './ports';
import { startService, type ServiceProcess } from './process';
import type { TestRedis } from './redis';
import { TEST_COMMAND_TIMEOUT_MS, TEST_TOKEN } from './service';

export interface RestartableService {
  /** `127.0.0.1:<port>`, the same across restarts. */
  target: string;
  current(): ServiceProcess | undefined;
  /** SIGKILL of the running process; resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts the service again on the same port; resolves once it listens. */
  start(): Promise<ServiceProcess>;
  /** SIGKILL of every process this started that is still running, by PID. */
  stopAll(): Promise<void>;
}

export async function restartableService(redis: TestRedis, env: Record<string, string> = {}): Promise<RestartableService> {
  const port = await workerPort();
  const fullEnv = {
    REDIS_URL: redis.url,
    API_KEYS: `default:${TEST_TOKEN}`,
    HOST: '127.0.0.1',
    GRPC_PORT: String(port),
    DATA_DIR: redis.dir,
    REDIS_COMMAND_TIMEOUT_MS: String(TEST_COMMAND_TIMEOUT_MS),
    ...env,
  };
  const children: ChildProcess[] = [];
  let current: ServiceProcess | undefined;
  const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const killChild = async (c: ChildProcess) => {
    if (!running(c)) return;
    const gone = new Promise<void>((done) => c.once('exit', () => done()));
    process.kill(c.pid!, 'SIGKILL');
    await gone;
  };
  const start = async () => {
    const p = startService(fullEnv);
    current = await p;
    children.push(current.child);
    return current;
  };
  await start();
  return {
    target: `127.0.0.1:${port}`,
    current: () => current,
    async kill() {
      if (current) await killChild(current.child);
      current = undefined;
    },
    start,
    async stopAll() {
      for (const c of children) await killChild(c);
    },
  };
}
