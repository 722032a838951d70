/**
 * A stalled store (the redis-server process frozen with SIGSTOP, as a VM freeze
 * or swap storm would) never makes a call hang: a caller's deadline ends it with
 * DEADLINE_EXCEEDED on time, and without one the store operation's own timeout
 * (REDIS_COMMAND_TIMEOUT_MS) does, also through the gateway (504). When Redis
 * resumes, calls succeed again.
 */
import { status } from '@grpc/grpc-js';
import { useStack } from '../helpers/stack';
import { failure } from '../helpers/grpc';
import { bearer, startGateway } from '../helpers/gateway';
import { TEST_TOKEN } from '../helpers/service';

const s = useStack({ commandTimeoutMs: 2000 });

it('deadline passes while Redis is stalled: DEADLINE_EXCEEDED within the deadline; no deadline: DEADLINE_EXCEEDED after the command timeout', async () => {
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
    expect(noDeadline).toMatchObject({ code: status.DEADLINE_EXCEEDED, reason: 'DEADLINE_EXCEEDED' });
    // The whole operation is bounded by REDIS_COMMAND_TIMEOUT_MS, also when auto-pipelining
    // holds its command behind the timed-out write above.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(Date.now() - t0).toBeLessThan(2000 + 1000);
  } finally {
    s.redis.child.kill('SIGCONT');
  }
  await expect(s.svc.threads.listMessages({ threadId: thread!.id })).resolves.toBeDefined();
});

it('through the gateway with its default deadline (10 s): 504 after the command timeout', async () => {
  const gw = await startGateway(s.svc, {}, bearer(TEST_TOKEN));
  try {
    const { thread } = await s.svc.threads.createThread({ groupId: 'slow', topic: 't' });
    s.redis.child.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      const r = await gw.post('/threads/Threads/ListMessages', { thread_id: thread!.id });
      expect(r.status).toBe(504);
      expect(r.body).toMatchObject({ id: 'DEADLINE_EXCEEDED', code: 504 });
      expect(Date.now() - t0).toBeLessThan(2000 + 1000);
    } finally {
      s.redis.child.kill('SIGCONT');
    }
    expect((await gw.post('/threads/Threads/ListMessages', { thread_id: thread!.id })).status).toBe(200);
  } finally {
    await gw.stop();
  }
});
