/**
 * The service process (dist/src/main.js) is SIGKILLed while the gateway is
 * under load from several HTTP clients, then started again on the same port.
 * Each client sends CreateMessage with its own message ids and retries the same
 * id on 503/504 until it gets 200, as a careful client would. While the service
 * is gone the gateway answers 503 quickly (no hang); once the service is back
 * the gateway recovers by itself; at the end every client's ids are stored
 * exactly once. Each request carries `x-request-id: trace-<n>`, and the ones
 * the restarted service answered are found in its debug call log.
 */
import { startGateway, type TestGateway } from '../helpers/gateway';
import { errorShapeProblems, send } from '../helpers/http';
import { storeProblems } from '../helpers/invariants';
import { startRedis, type TestRedis } from '../helpers/redis';
import { restartableService, type RestartableService } from '../helpers/restartable';
import { TEST_TOKEN } from '../helpers/service';

const CLIENTS = 6;
/** Acknowledged writes before the kill, and after the restart, before the clients stop. */
const ACKS_BEFORE = 60;
const ACKS_AFTER = 60;
/** How long the service stays down. */
const OUTAGE_MS = 1000;
/** A failed request must be answered within this (the gateway's deadline is 10 s: a 503 must not wait for it). */
const FAIL_FAST_MS = 2000;
/** The gateway must serve again within this of the service listening again (its reconnect backoff is at most 2 s). */
const RECOVERY_MS = 5000;

interface Attempt {
  client: number;
  id: string;
  requestId: string;
  start: number;
  end: number;
  status: number;
  body: unknown;
  echoed: string | null;
}

let redis: TestRedis | undefined;
let gw: TestGateway | undefined;
let svc: RestartableService | undefined;

afterAll(async () => {
  await gw?.stop();
  await svc?.stopAll();
  await redis?.stop();
});

it('SIGKILL of the service under gateway load: quick 503s, recovery by itself, every id stored once, request ids in the new service’s log', async () => {
  redis = await startRedis();
  svc = await restartableService(redis, { LOG_LEVEL: 'debug', METRICS_PORT: '0' });
  const first = svc.current()!;
  gw = await startGateway(svc.target);
  const headers = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };
  const post = (path: string, body: unknown, extra: Record<string, string> = {}) =>
    send(gw!.url, path, { body: JSON.stringify(body), headers: { ...headers, ...extra }, timeoutMs: 15_000 });

  const created = await post('/threads/Threads/CreateThread', { group_id: 'faults', topic: 'service restart' });
  expect(created.status).toBe(200);
  const threadId: string = created.body.thread.id;

  // --- the load: each client writes its own ids, retrying an id on 503/504 until 200.
  const attempts: Attempt[] = [];
  const ids: string[][] = Array.from({ length: CLIENTS }, () => []);
  let acked = 0;
  let n = 0;
  let stop = false;
  const hardDeadline = Date.now() + 45_000;
  const client = async (c: number) => {
    for (let i = 0; !stop; i++) {
      const id = `c${c}-m${i}`;
      ids[c].push(id);
      for (;;) {
        const requestId = `trace-${n++}`;
        const start = Date.now();
        const a = await post('/threads/Threads/CreateMessage', { thread_id: threadId, id, author_id: `client-${c}`, text: `message ${i} of client ${c}` }, { 'x-request-id': requestId });
        attempts.push({ client: c, id, requestId, start, end: Date.now(), status: a.status, body: a.body, echoed: a.headers.get('x-request-id') });
        if (a.status === 200) {
          acked++;
          break;
        }
        if (a.status !== 503 && a.status !== 504) throw new Error(`client ${c}: ${a.status} ${a.text}`);
        if (Date.now() > hardDeadline) throw new Error(`client ${c}: still failing at the hard deadline: ${a.status} ${a.text}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const until = async (cond: () => boolean, what: string) => {
    while (!cond()) {
      if (Date.now() > hardDeadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  // Surface a client's failure at once rather than after the controller's waits.
  let loadError: unknown;
  load.catch((e) => (loadError = e));

  await until(() => acked >= ACKS_BEFORE || loadError !== undefined, `${ACKS_BEFORE} acknowledged writes`);
  const killedAt = Date.now();
  await svc.kill();
  expect(await first.exited).toBe('SIGKILL');

  // Down: health is 503 too, quickly.
  await new Promise((r) => setTimeout(r, OUTAGE_MS / 2));
  const health = await send(gw.url, '/healthz', { method: 'GET', timeoutMs: 5000 });
  expect([health.status, health.body?.id]).toEqual([503, 'UNAVAILABLE']);
  expect(health.ms).toBeLessThan(FAIL_FAST_MS);
  await new Promise((r) => setTimeout(r, OUTAGE_MS / 2));

  // Back on the same port.
  const second = await svc.start();
  const restartedAt = Date.now();
  const ackedAtRestart = acked;
  await until(() => acked >= ackedAtRestart + ACKS_AFTER || loadError !== undefined, `${ACKS_AFTER} writes after the restart`);
  stop = true;
  await load;

  // --- what the clients saw.
  const failed = attempts.filter((a) => a.status !== 200);
  const duringOutage = failed.filter((a) => a.start >= killedAt && a.end <= restartedAt);
  expect(duringOutage.length).toBeGreaterThan(0); // the outage was seen…
  for (const a of failed) {
    // …as 503 (or 504), quickly, with the one error body.
    expect({ id: a.requestId, status: a.status, fast: a.end - a.start < FAIL_FAST_MS, shape: errorShapeProblems({ status: a.status, body: a.body, text: JSON.stringify(a.body) }) }).toEqual({
      id: a.requestId,
      status: a.status === 504 ? 504 : 503,
      fast: true,
      shape: [],
    });
  }
  expect(attempts.every((a) => a.echoed === a.requestId)).toBe(true);
  // The gateway came back by itself, soon after the service did.
  const firstOkAfter = Math.min(...attempts.filter((a) => a.status === 200 && a.start >= restartedAt).map((a) => a.end));
  expect(firstOkAfter - restartedAt).toBeLessThan(RECOVERY_MS);
  expect((await send(gw.url, '/healthz', { method: 'GET', timeoutMs: 5000 })).status).toBe(200);

  // --- every client's ids, stored exactly once each (and nothing else).
  const stored: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await post('/threads/Threads/ListMessages', { thread_id: threadId, order: 'asc', limit: 1000, offset });
    expect(page.status).toBe(200);
    if (page.body.messages.length === 0) break;
    stored.push(...page.body.messages.map((m: { id: string }) => m.id));
  }
  const count = new Map<string, number>();
  for (const id of stored) count.set(id, (count.get(id) ?? 0) + 1);
  const all = ids.flat();
  expect(all.filter((id) => count.get(id) !== 1)).toEqual([]);
  expect(stored.length).toBe(all.length);
  expect(await storeProblems(redis.client())).toEqual([]);

  // --- request ids: every request the restarted service answered is in its call log; none of the first one's.
  expect(await second.stop()).toBe(0);
  const out = second.child.stdout!;
  if (!out.readableEnded) await new Promise((r) => out.once('end', r));
  const logged = new Set(second.logs.filter((l) => l.msg === 'call').map((l) => l.requestId as string));
  const servedBySecond = attempts.filter((a) => a.status === 200 && a.start >= restartedAt).map((a) => a.requestId);
  expect(servedBySecond.length).toBeGreaterThanOrEqual(ACKS_AFTER);
  expect(servedBySecond.filter((id) => !logged.has(id))).toEqual([]);
  const servedByFirst = attempts.filter((a) => a.status === 200 && a.end <= killedAt).map((a) => a.requestId);
  expect(servedByFirst.filter((id) => logged.has(id))).toEqual([]);
  const calls = second.logs.filter((l) => l.msg === 'call' && l.requestId === servedBySecond[0]);
  expect(calls).toEqual([expect.objectContaining({ method: '/threads.Threads/CreateMessage', code: 'OK' })]);
}, 60_000);
