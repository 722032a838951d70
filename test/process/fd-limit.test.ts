/**
 * The service at its file-descriptor limit (issue: an attacker held enough idle
 * connections that the embedded redis-server's restart could not be spawned;
 * Node then left child.pid undefined and kill() signalled pid 0, the service's
 * own process group). Reproduced small: the service under `ulimit -n 200`, idle
 * TCP connections to both its ports until it runs out, then its redis-server
 * killed. It must stay up, say why a restart failed, and recover.
 */
import { connect, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clients } from '../helpers/grpc';
import { startProcess, type ServiceProcess } from '../helpers/process';
import { TEST_TOKEN } from '../helpers/service';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let svc: ServiceProcess | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  // Its own process group: a test that fails midway takes its redis-server down with it.
  if (svc?.child.pid) {
    try {
      process.kill(-svc.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Opens idle TCP connections to `port` until `count` are open or the server stops taking them. */
async function holdConnections(port: number, count: number): Promise<number> {
  let open = 0;
  for (let i = 0; i < count; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1', () => res(true));
      s.on('error', () => res(false));
      s.setTimeout(2000, () => res(false));
      sockets.push(s);
    });
    if (ok) open++;
  }
  return open;
}

it('idle connections past the fd limit, then redis-server killed: the service stays up, logs why, and recovers', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-fd-'));
  svc = await startProcess(
    'dist/src/main.js',
    { DATA_DIR: dataDir, API_KEYS: `default:${TEST_TOKEN}`, HOST: '127.0.0.1', GRPC_PORT: '0' },
    'gRPC server listening',
    20_000,
    { maxFiles: 200, detached: true },
  );
  const redisPid = svc.logs.find((l) => l.msg === 'embedded redis-server started')!.redisPid as number;
  await holdConnections(svc.port, 150);
  await holdConnections(svc.httpPort!, 150);

  process.kill(redisPid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  // The service is alive (it did not signal its own process group) …
  expect(alive(svc.child.pid!)).toBe(true);
  expect(svc.child.exitCode).toBeNull();

  // … and once the connections are gone, it restarts redis-server and serves again.
  sockets.splice(0).forEach((s) => s.destroy());
  const until = Date.now() + 20_000;
  while (Date.now() < until && !svc.logs.some((l) => l.msg === 'embedded redis-server restarted')) await new Promise((r) => setTimeout(r, 100));
  expect(svc.logs.some((l) => l.msg === 'embedded redis-server restarted')).toBe(true);
  // Every failed restart said why (it once logged "failed to start: " and nothing more).
  for (const l of svc.logs.filter((x) => x.msg === 'embedded redis-server did not restart; trying again')) {
    expect(String(l.err)).toMatch(/failed to start: \S/);
  }
  const c = clients(`127.0.0.1:${svc.port}`, TEST_TOKEN);
  let created = false;
  while (!created && Date.now() < until) {
    created = await c.threads.createThread({ groupId: 'g', topic: 'after' }).then(
      () => true,
      () => false,
    );
    if (!created) await new Promise((r) => setTimeout(r, 200));
  }
  c.close();
  expect(created).toBe(true);
  expect(await svc.stop()).toBe(0);
}, 60_000);
