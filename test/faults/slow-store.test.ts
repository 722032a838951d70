/**
 * A stalled store (the redis-server process frozen with SIGSTOP, as a VM freeze
 * or swap storm would) never makes a call hang: a caller's deadline ends it with
 * DEADLINE_EXCEEDED on time, and without a deadline the store operation's
 * timeout answers UNAVAILABLE. When Redis resumes, calls succeed again.
 */
import { status } from '@grpc/grpc-js';
import { useStack } from '../helpers/stack';
import { failure } from '../helpers/grpc';

const s = useStack({ commandTimeoutMs: 2000 });

it('deadline passes while Redis is stalled: DEADLINE_EXCEEDED within the deadline; no deadline: UNAVAILABLE after the command timeout', async () => {
  const { thread } = await s.svc.threads.createThread({ groupId: 'slow', topic: 't' });
  s.redis.child.kill('SIGSTOP');
  try {
    let t0 = Date.now();
    const withDeadline = await failure(
      s.svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'x' }, undefined, { deadline: Date.now() + 300 }),
    );
    expect(withDeadline.code).toBe(status.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(800);

    t0 = Date.now();
    const noDeadline = await failure(s.svc.threads.listMessages({ threadId: thread!.id }));
    expect(noDeadline).toMatchObject({ code: status.UNAVAILABLE, reason: 'UNAVAILABLE' });
    // The whole operation is bounded by REDIS_COMMAND_TIMEOUT_MS, also when auto-pipelining
    // holds its command behind the timed-out write above.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(Date.now() - t0).toBeLessThan(2000 + 1000);
  } finally {
    s.redis.child.kill('SIGCONT');
  }
  await expect(s.svc.threads.listMessages({ threadId: thread!.id })).resolves.toBeDefined();
});
