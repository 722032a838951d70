/**
 * Fairness (README "Fairness"): while one namespace floods the most
 * expensive reads it is allowed (ListMessages of 16 KiB texts up to the reply
 * budget, many at once), another namespace's cheap calls keep being answered,
 * without an error; the flood's surplus is queued, or refused RATE_LIMITED,
 * within its own namespace. The service runs as its own process, as
 * deployed. The latency figure (the other tenant's p99 against its unloaded
 * p99) is printed here (FAIRNESS_REPORT=1) and measured by the benchmark
 * (bench/fairness.ts, where the flood is a separate process), not asserted:
 * timing targets live in bench/.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ListMessagesRequest } from '../gen/threads/threads';
import { richDetails } from '../../src/transports/grpc/status';
import { clients, type Clients } from '../helpers/grpc';
import { startProcess, type ServiceProcess } from '../helpers/process';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, TEST_TOKEN } from '../helpers/service';

let redis: TestRedis;
let svc: ServiceProcess;
const open: Clients[] = [];

beforeAll(async () => {
  redis = await startRedis();
  svc = await startProcess(
    'dist/src/main.js',
    {
      REDIS_URL: redis.url,
      API_KEYS: `default:${TEST_TOKEN},other:${OTHER_TOKEN}`,
      HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-fair-')),
      // NAMESPACE_READS_IN_FLIGHT as by default (1); a short queue, so 16 flooders meet its end.
      NAMESPACE_READS_QUEUED: '4',
    },
    'gRPC server listening',
  );
});
afterAll(async () => {
  open.forEach((c) => c.close());
  await svc?.stop();
  await redis?.stop();
});

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];

async function readThreadLatencies(c: Clients, id: string, until: () => boolean): Promise<{ ms: number[]; errors: string[] }> {
  const ms: number[] = [];
  const errors: string[] = [];
  while (!until()) {
    const t0 = performance.now();
    try {
      await c.threads.readThread({ id });
      ms.push(performance.now() - t0);
    } catch (e) {
      errors.push(String((e as ServiceError).details));
    }
  }
  return { ms, errors };
}

it('one namespace flooding large reads: another namespace’s calls are all answered; the flood is queued or RATE_LIMITED in its own namespace', async () => {
  const target = `127.0.0.1:${svc.port}`;
  const heavy = clients(target, TEST_TOKEN, { ownConnection: true });
  const light = clients(target, OTHER_TOKEN, { ownConnection: true });
  open.push(heavy, light);
  const { thread: big } = await heavy.threads.createThread({ groupId: 'g', topic: 'big' });
  const text = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 300; i += 20) {
    await Promise.all(Array.from({ length: 20 }, () => heavy.threads.createMessage({ threadId: big!.id, authorId: 'a', text })));
  }
  const { thread: small } = await light.threads.createThread({ groupId: 'g', topic: 'small' });

  // Unloaded.
  for (let i = 0; i < 50; i++) await light.threads.readThread({ id: small!.id });
  let end = Date.now() + 3000;
  const unloaded = await readThreadLatencies(light, small!.id, () => Date.now() > end);

  // Loaded: 16 connections of the other tenant reading ~4 MiB pages as fast as they can. Their
  // replies are taken as bytes, not decoded: decoding 4 MiB in this process would stall the
  // event loop that times the light calls, and measure the test instead of the service.
  const request = Buffer.from(ListMessagesRequest.encode({ threadId: big!.id, limit: '250', offset: '0', order: '', after: '', before: '', includeDeleted: '' }).finish());
  const md = new Metadata();
  md.set('authorization', `Bearer ${TEST_TOKEN}`);
  const flooders = Array.from({ length: 16 }, () => new Client(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  let floodDone = false;
  const outcomes = { ok: 0, limited: 0, other: [] as string[] };
  const flood = flooders.map(async (c) => {
    while (!floodDone) {
      try {
        await new Promise((res, rej) =>
          c.makeUnaryRequest('/threads.Threads/ListMessages', (b: Buffer) => b, (b: Buffer) => b, request, md, (err, v) => (err ? rej(err) : res(v))),
        );
        outcomes.ok++;
      } catch (e) {
        const err = e as ServiceError;
        if (err.code === status.RESOURCE_EXHAUSTED && richDetails(err.metadata).reason === 'RATE_LIMITED' && richDetails(err.metadata).retryDelayMs! > 0) outcomes.limited++;
        else outcomes.other.push(`${err.code} ${err.details}`);
      }
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  end = Date.now() + 4000;
  const loaded = await readThreadLatencies(light, small!.id, () => Date.now() > end);
  floodDone = true;
  await Promise.all(flood);
  flooders.forEach((c) => c.close());

  const report = { unloadedP99: p99(unloaded.ms), loadedP99: p99(loaded.ms), unloadedN: unloaded.ms.length, loadedN: loaded.ms.length, flood: outcomes };
  // eslint-disable-next-line no-console
  if (process.env.FAIRNESS_REPORT) console.log(JSON.stringify(report));
  expect(loaded.errors).toEqual([]);
  expect(loaded.ms.length).toBeGreaterThan(0);
  // 16 at once against 1 running and 4 waiting: the flood meets its own namespace's limit.
  expect(outcomes.other).toEqual([]);
  expect(outcomes.ok).toBeGreaterThan(0);
  expect(outcomes.limited).toBeGreaterThan(0);
}, 120_000);
