/**
 * A slow store (Redis paused with CLIENT PAUSE) never makes a call hang: a
 * caller's deadline ends it with DEADLINE_EXCEEDED on time, and without a
 * deadline the Redis command timeout answers UNAVAILABLE.
 */
import { status } from '@grpc/grpc-js';
import { useStack } from '../helpers/stack';
import { failure } from '../helpers/grpc';

const s = useStack({ commandTimeoutMs: 2000 });

it('deadline passes while Redis is stalled: DEADLINE_EXCEEDED within the deadline; no deadline: UNAVAILABLE after the command timeout', async () => {
  const { thread } = await s.svc.threads.createThread({ groupId: 'slow', topic: 't' });
  await s.redis.client().client('PAUSE', 4000, 'ALL');

  let t0 = Date.now();
  const withDeadline = await failure(
    s.svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'x' }, undefined, { deadline: Date.now() + 300 }),
  );
  expect(withDeadline.code).toBe(status.DEADLINE_EXCEEDED);
  expect(Date.now() - t0).toBeLessThan(800);

  t0 = Date.now();
  const noDeadline = await failure(s.svc.threads.listMessages({ threadId: thread!.id }));
  expect(noDeadline).toMatchObject({ code: status.UNAVAILABLE, reason: 'UNAVAILABLE' });
  // Auto-pipelining queues a command behind the batch in flight (the timed-out write above),
  // so a call waits at most twice REDIS_COMMAND_TIMEOUT_MS.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
  expect(Date.now() - t0).toBeLessThan(2 * 2000 + 500);

  await s.redis.client().client('UNPAUSE');
  await expect(s.svc.threads.listMessages({ threadId: thread!.id })).resolves.toBeDefined();
});
