/**
 * The service at its file-descriptor limit (issue: an attacker held enough idle
 * connections that the embedded redis-server's restart could not be spawned;
 * Node then left child.pid undefined and kill() signalled pid 0, the service's
 * own process group). Two tests:
 *
 * - the attack, small: the service under `ulimit -n 200`, idle TCP connections
 *   to both its ports, then its redis-server killed. The connection limits
 *   keep 128 descriptors free, so the restart is spawned at once;
 * - the restart's spawn failing with EMFILE, made certain: the running
 *   service's soft fd limit lowered (prlimit) below every descriptor it holds,
 *   so each new one fails, then its redis-server killed. The service and its
 *   process group (a sentinel `sleep` in it) must survive, every failed
 *   restart must say why, and it must restart once the limit is back.
 */
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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
let sentinel: number | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  if (sentinel !== undefined && alive(sentinel)) process.kill(sentinel, 'SIGKILL');
  sentinel = undefined;
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

it('idle connections past the connection limits under ulimit -n 200, then redis-server killed: the service stays up and restarts it at once', async () => {
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

  // … it restarted redis-server at the first try: the connection limits left it descriptors …
  const until = Date.now() + 20_000;
  while (Date.now() < until && !svc.logs.some((l) => l.msg === 'embedded redis-server restarted')) await new Promise((r) => setTimeout(r, 100));
  expect(svc.logs.some((l) => l.msg === 'embedded redis-server restarted')).toBe(true);
  expect(svc.logs.filter((x) => x.msg === 'embedded redis-server did not restart; trying again')).toEqual([]);
  // … and it serves.
  sockets.splice(0).forEach((s) => s.destroy());
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

/** The soft RLIMIT_NOFILE of `pid`. */
const softFdLimit = (pid: number) => Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]);

/** Child processes of `pid` running `comm`. */
function childrenOf(pid: number, comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid …
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[1] === comm && Number(m[2]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

it('the restart of a killed redis-server cannot be spawned (EMFILE): the service and its process group survive, each failure says why, and it restarts once descriptors are back', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-emfile-'));
  svc = await startProcess(
    'dist/src/main.js',
    { DATA_DIR: dataDir, API_KEYS: `default:${TEST_TOKEN}`, HOST: '127.0.0.1', GRPC_PORT: '0' },
    'gRPC server listening',
    20_000,
    { detached: true, sentinel: true },
  );
  const pid = svc.child.pid!;
  [sentinel] = childrenOf(pid, 'sleep');
  expect(sentinel).toBeDefined();
  const redisPid = svc.logs.find((l) => l.msg === 'embedded redis-server started')!.redisPid as number;
  const limit = softFdLimit(pid);

  // Descriptors are allocated lowest first, and 0-2 are taken: under a soft limit of 3 every new
  // one (the spawn's pipes, Redis reconnects, accepted connections) fails with EMFILE.
  execFileSync('prlimit', ['--pid', String(pid), '--nofile=3:']);
  process.kill(redisPid, 'SIGKILL');
  const failed = () => svc!.logs.filter((x) => x.msg === 'embedded redis-server did not restart; trying again');
  let until = Date.now() + 15_000;
  while (Date.now() < until && failed().length < 3) await new Promise((r) => setTimeout(r, 100));

  // Nothing signalled the process group: the service and the sentinel beside it are alive.
  expect(alive(pid)).toBe(true);
  expect(svc.child.exitCode).toBeNull();
  expect(alive(sentinel!)).toBe(true);
  // Each failed restart is logged with its reason (it once logged "failed to start: " and nothing more).
  expect(failed().length).toBeGreaterThanOrEqual(3);
  for (const l of failed()) expect(String(l.err)).toMatch(/failed to start: .*EMFILE/);

  // Descriptors back: the next attempt starts redis-server, and the service serves again.
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:`]);
  until = Date.now() + 20_000;
  while (Date.now() < until && !svc.logs.some((l) => l.msg === 'embedded redis-server restarted')) await new Promise((r) => setTimeout(r, 100));
  expect(svc.logs.some((l) => l.msg === 'embedded redis-server restarted')).toBe(true);
  const c = clients(`127.0.0.1:${svc.port}`, TEST_TOKEN, { ownConnection: true });
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
  expect(alive(sentinel!)).toBe(true);
}, 60_000);
