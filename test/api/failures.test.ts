import { status } from '@grpc/grpc-js';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, type TestService } from '../helpers/service';
import { failure } from '../helpers/grpc';

let redis: TestRedis;
let svc: TestService;

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
});
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

it('anything unexpected is INTERNAL with a generic detail and no internals', async () => {
  const { thread } = await svc.threads.createThread({ groupId: 'g', topic: 't' });
  await svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'x' });
  // Corrupt the stored body so decoding it throws inside the service.
  const raw = redis.client();
  const key = (await raw.keys(`*${thread!.id}}:msg`))[0];
  const [field] = await raw.hkeys(key);
  await raw.hset(key, field, 'not|json{');
  const f = await failure(svc.threads.listMessages({ threadId: thread!.id }));
  expect(f).toEqual({ code: status.INTERNAL, reason: 'INTERNAL', details: 'Internal error' });
});

it('a store that cannot be reached is UNAVAILABLE, quickly', async () => {
  await redis.stop();
  const started = Date.now();
  const f = await failure(svc.threads.createThread({ groupId: 'g', topic: 't' }));
  expect(f).toMatchObject({ code: status.UNAVAILABLE, reason: 'UNAVAILABLE' });
  expect(Date.now() - started).toBeLessThan(3000);
  expect(await failure(svc.threads.listThreads({ groupId: 'g' }))).toMatchObject({ code: status.UNAVAILABLE });
});
