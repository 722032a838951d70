/**
 * The embedded redis-server never outlives the service unnoticed (hardening
 * issue, repro 6): SIGINT to the whole process group under load (what Ctrl-C
 * in a terminal does: Redis gets it too and dies, and a restart then would
 * outlive the service). The floods (unauthenticated large requests among
 * them) are in floods.test.ts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clients } from '../helpers/grpc';
import { startProcess, type ServiceProcess } from '../helpers/process';
import { TEST_TOKEN } from '../helpers/service';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

let svc: ServiceProcess | undefined;
afterEach(() => {
  // The service runs in a process group of its own: a test that fails midway takes its redis-server down with it.
  if (svc?.child.pid) {
    try {
      process.kill(-svc.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const start = () =>
  startProcess(
    'dist/src/main.js',
    { DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-sig-')), API_KEYS: `default:${TEST_TOKEN}`, HOST: '127.0.0.1', GRPC_PORT: '0' },
    'gRPC server listening',
    20_000,
    { detached: true },
  );

it('SIGINT to the whole process group under load: the service exits and leaves no redis-server behind', async () => {
  for (let attempt = 0; attempt < 3; attempt++) {
    svc = await start();
    const redisPid = svc.logs.find((l) => l.msg === 'embedded redis-server started')!.redisPid as number;
    const c = clients(`127.0.0.1:${svc.port}`, TEST_TOKEN);
    const { thread } = await c.threads.createThread({ groupId: 'g', topic: 'sigint' });
    let running = true;
    const load = Array.from({ length: 8 }, async () => {
      while (running) await c.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'x' }).catch(() => undefined);
    });
    await new Promise((r) => setTimeout(r, 300));
    // The group: the service and its redis-server, as a terminal's Ctrl-C reaches them.
    process.kill(-svc.child.pid!, 'SIGINT');
    const code = await svc.exited;
    running = false;
    await Promise.all(load);
    c.close();
    expect(code).toBe(0);
    const until = Date.now() + 5000;
    while (alive(redisPid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(alive(redisPid)).toBe(false);
    // No other redis-server was started for this DATA_DIR meanwhile.
    expect(svc.logs.some((l) => l.msg === 'embedded redis-server restarted')).toBe(false);
  }
}, 90_000);
