import { createServer } from 'node:net';
import { freePort } from '../../src/store/embedded';

/**
 * Ports a test must get back after a restart (a Redis, a service) come from a
 * range of their own per jest worker (20000 + 1000 × worker), below the
 * kernel's ephemeral range: no other worker, and no process binding port 0,
 * can take one while a fault test has its process down.
 */
let nextOffset = Math.floor(Math.random() * 500);
export async function workerPort(): Promise<number> {
  const worker = Number(process.env.JEST_WORKER_ID ?? '1') % 10;
  for (let i = 0; i < 500; i++) {
    const port = 20000 + worker * 1000 + (nextOffset++ % 1000);
    if (await isFree(port)) return port;
  }
  return freePort();
}

function isFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

