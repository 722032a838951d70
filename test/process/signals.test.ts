/**
 * The embedded redis-server never outlives the service unnoticed (hardening
 * issue, repro 6): SIGINT to the whole process group under load (what Ctrl-C
 * in a terminal does: Redis gets it too and dies, and a restart then would
 * outlive the service), and the memory a flood of unauthenticated large
 * requests can make the service hold.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as h2connect } from 'node:http2';
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

it('150 unauthenticated calls declaring 4 MiB messages and sending their first 64 KiB: answered from their headers, little memory held, others served', async () => {
  svc = await start();
  const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${svc!.child.pid}/status`, 'utf8'))![1]) * 1024;
  const before = rss();
  const sessions = Array.from({ length: 5 }, () => h2connect(`http://127.0.0.1:${svc!.port}`));
  const statuses: number[] = [];
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: 150 }, (_, i) =>
      new Promise<void>((resolve) => {
        const stream = sessions[i % sessions.length].request({
          ':method': 'POST',
          ':path': '/threads.Threads/CreateThread',
          'content-type': 'application/grpc',
          te: 'trailers',
          authorization: 'Bearer wrong-token-0000',
        });
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(4 * 1024 * 1024 - 1, 1);
        stream.write(prefix);
        // A stream's first window of it; the rest is never asked for by the service.
        stream.write(Buffer.alloc(64 * 1024, 0x61));
        const done = (h: Record<string, unknown>) => {
          if (h['grpc-status'] !== undefined) {
            statuses.push(Number(h['grpc-status']));
            stream.close();
            resolve();
          }
        };
        stream.on('response', done);
        stream.on('trailers', done);
        stream.on('error', (e) => {
          errors.push(String(e));
          resolve();
        });
        stream.resume();
      }),
    ),
  );
  const after = rss();
  sessions.forEach((s) => s.destroy());
  // Each call is answered UNAUTHENTICATED from its headers, or, once a connection holds
  // GRPC_MAX_SESSION_MEMORY_MIB of unread data, refused as a stream (ENHANCE_YOUR_CALM).
  expect(statuses.length + errors.length).toBe(150);
  expect(statuses.length).toBeGreaterThan(0);
  expect(new Set(statuses)).toEqual(new Set([16]));
  for (const e of errors) expect(e).toMatch(/ENHANCE_YOUR_CALM|REFUSED_STREAM/);
  // Was +193 MB for the same flood before calls were admitted on their metadata.
  expect(after - before).toBeLessThan(64 * 1024 * 1024);
  // A caller with a token, on its own connection, is served meanwhile.
  const c = clients(`127.0.0.1:${svc.port}`, TEST_TOKEN, { ownConnection: true });
  expect((await c.threads.createThread({ groupId: 'g', topic: 'fine' })).thread?.topic).toBe('fine');
  c.close();
  expect(await svc.stop()).toBe(0);
}, 60_000);
