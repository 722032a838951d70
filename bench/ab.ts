/**
 * A/B of two service builds by CPU per call, for checking a change to src/
 * on a machine too noisy for throughput to tell: both services run on one
 * fresh Redis, h2load sends each the same fixed number of calls in turns
 * (A, B, A, B, …), and the CPU time the service process and Redis used is
 * divided by the calls. Medians over the rounds.
 *
 *   node dist/bench/ab.js <A dist/src/main.js> <B dist/src/main.js> [method] [rounds] [calls] [in flight]
 *
 * method: CreateMessage (default), ListMessages, RecentMessages, CreateChat.
 * Either build may be `floor:storage` or `floor:fixed`: the bare grpc-js floors of run.ts.
 * The fixture is made through A, so A must be a service build.
 * AB_CPU_PROF=<dir>: the services write V8 CPU profiles there (service-A/B.cpuprofile).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { ChatsService } from '../test/gen/chats/chats';
import { ThreadsService } from '../test/gen/threads/threads';
import { fillThread } from './lib/fill';
import { grpcFrame, h2load } from './lib/load';
import { freePort, installCleanup, spawnTracked, stopAll, tcpOpen, waitUntil, type Tracked } from './lib/procs';
import { Rpc } from './lib/rpc';
import { AUTHOR, CHAT_USERS, LIST_LIMIT, PATHS, RECENT_PER_THREAD, RECENT_THREADS, TEXT, type Method } from './lib/shapes';
import { median } from './lib/stats';

const ticks = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};

async function main(): Promise<void> {
  installCleanup();
  const [a, b, method = 'CreateMessage', roundsArg = '10', callsArg = '20000', inFlightArg = '64'] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: node dist/bench/ab.js <A main.js> <B main.js> [method] [rounds] [calls] [in flight]');
  const m = method as Method;
  if (!PATHS[m]) throw new Error(`unknown method ${method}`);
  const rounds = Number(roundsArg);
  const calls = Number(callsArg);
  const inFlight = Number(inFlightArg);
  const dir = mkdtempSync(join(tmpdir(), 'parley-ab-'));
  const token = randomBytes(24).toString('base64url');
  try {
    const redisPort = await freePort();
    const redisProc = spawnTracked('redis-server', 'redis-server', [
      '--bind', '127.0.0.1', '--port', String(redisPort), '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    ]);
    const redis = new Redis({ port: redisPort, lazyConnect: true });
    redis.on('error', () => undefined);
    await waitUntil('redis', redisProc, async () => {
      if (redis.status === 'wait') await redis.connect();
      return (await redis.ping()) === 'PONG';
    });
    const services: { name: string; proc: Tracked; port: number }[] = [];
    for (const [name, main] of [['A', a], ['B', b]] as const) {
      const port = await freePort();
      const floor = /^floor:(fixed|storage)$/.exec(main);
      const env = { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', REDIS_URL: `redis://127.0.0.1:${redisPort}` };
      const proc = floor
        ? spawnTracked(`floor ${name}`, process.execPath, [join(__dirname, 'servers', 'bare-grpc.js')], { env: { ...env, PORT: String(port), BENCH_MODE: floor[1], BENCH_NS: 'default' } })
        : spawnTracked(`service ${name}`, process.execPath, [...(process.env.AB_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.AB_CPU_PROF), '--cpu-prof-name', `service-${name}.cpuprofile`] : []), resolve(main)], {
            // HTTP_PORT 0: the service's JSON transport on a free port (unused here; older builds ignore it).
            env: { ...env, GRPC_PORT: String(port), HTTP_PORT: '0', METRICS_PORT: '0', API_KEYS: `default:${token}`, DATA_DIR: join(dir, name) },
          });
      await waitUntil(`service ${name}`, proc, () => tcpOpen(port));
      services.push({ name, proc, port });
    }
    // The fixture, made through A.
    const rpc = new Rpc(services[0].port, token);
    await rpc.ready();
    const thread = async () => (await rpc.call(ThreadsService.createThread, { createdBy: '', parentThreadId: '', parentMessageId: '', participants: [], groupId: 'ab', topic: 'ab', metadata: {} })).reply.thread!.id;
    let body: Buffer;
    if (m === 'CreateMessage') {
      body = grpcFrame(ThreadsService.createMessage.requestSerialize({ id: '', threadId: await thread(), authorId: AUTHOR, text: TEXT, metadata: {} }));
    } else if (m === 'ListMessages') {
      const id = await thread();
      await fillThread(redis, 'default', id, 100_000, AUTHOR, TEXT);
      body = grpcFrame(ThreadsService.listMessages.requestSerialize({ threadId: id, limit: String(LIST_LIMIT), offset: '0', order: '', after: '', before: '', includeDeleted: '' }));
    } else if (m === 'RecentMessages') {
      const ids: string[] = [];
      for (let i = 0; i < RECENT_THREADS; i++) {
        ids.push(await thread());
        await fillThread(redis, 'default', ids[i], 100, AUTHOR, TEXT);
      }
      body = grpcFrame(ThreadsService.recentMessages.requestSerialize({ threadIds: ids, limitPerThread: String(RECENT_PER_THREAD), groupId: '', includeDeleted: '' }));
    } else {
      body = grpcFrame(ChatsService.createChat.requestSerialize({ userIds: CHAT_USERS, id: '', metadata: {} }));
    }
    rpc.close();
    const per: Record<string, { svc: number[]; redis: number[]; rps: number[] }> = { A: { svc: [], redis: [], rps: [] }, B: { svc: [], redis: [], rps: [] } };
    const run = async (s: (typeof services)[number], n: number) => {
      const t0 = ticks(s.proc.child.pid!);
      const r0 = ticks(redisProc.child.pid!);
      const r = await h2load({ port: s.port, path: PATHS[m].grpc, body, token, minDataBytes: 5 }, { requests: n, inFlight, clients: Math.min(4, inFlight) });
      return { svc: ((ticks(s.proc.child.pid!) - t0) * 1e4) / r.requests, redis: ((ticks(redisProc.child.pid!) - r0) * 1e4) / r.requests, rps: r.rps };
    };
    for (const s of services) await run(s, Math.min(calls, 5000)); // warm-up
    for (let i = 0; i < rounds; i++) {
      for (const s of i % 2 ? [...services].reverse() : services) {
        const x = await run(s, calls);
        per[s.name].svc.push(x.svc);
        per[s.name].redis.push(x.redis);
        per[s.name].rps.push(x.rps);
      }
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    console.log(`${method}, ${inFlight} in flight, ${rounds} rounds of ${calls} calls (medians; CPU µs per call from /proc):`);
    for (const s of services) {
      const p = per[s.name];
      console.log(`  ${s.name}: service ${median(p.svc).toFixed(1)} µs, redis ${median(p.redis).toFixed(1)} µs, ${median(p.rps).toFixed(0)} calls/s   ${s.name === 'A' ? a : b}`);
    }
    console.log(`  B/A service CPU: ${(median(per.B.svc) / median(per.A.svc)).toFixed(3)}; per-round ratios: ${per.B.svc.map((x, i) => (x / per.A.svc[i]).toFixed(2)).join(' ')}`);
    redis.disconnect();
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  void stopAll().finally(() => process.exit(1));
});
