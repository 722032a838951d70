import { status } from '@grpc/grpc-js';
import { useStack } from '../helpers/stack';
import { failure } from '../helpers/grpc';

const s = useStack();

it('anything unexpected is INTERNAL with a generic detail and no internals', async () => {
  const { thread } = await s.svc.threads.createThread({ groupId: 'g', topic: 't' });
  await s.svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'x' });
  // Corrupt the stored body so decoding it throws inside the service.
  const raw = s.redis.client();
  const key = (await raw.keys(`*${thread!.id}}:msg`))[0];
  const [field] = await raw.hkeys(key);
  await raw.hset(key, field, '{"s":"not json');
  const f = await failure(s.svc.threads.listMessages({ threadId: thread!.id }));
  expect(f).toEqual({ code: status.INTERNAL, reason: 'INTERNAL', details: 'Internal error' });
});

it('a store that cannot be reached is UNAVAILABLE, quickly', async () => {
  await s.redis.stop();
  const started = Date.now();
  const f = await failure(s.svc.threads.createThread({ groupId: 'g', topic: 't' }));
  expect(f).toMatchObject({ code: status.UNAVAILABLE, reason: 'UNAVAILABLE' });
  expect(Date.now() - started).toBeLessThan(3000);
  expect(await failure(s.svc.threads.listThreads({ groupId: 'g' }))).toMatchObject({ code: status.UNAVAILABLE });
});
