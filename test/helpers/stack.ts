/**
 * The usual setup of a test file: a fresh redis-server and the service over
 * it, started before the file's tests and stopped after them.
 */
import { startRedis, type TestRedis } from './redis';
import { startService, type TestService } from './service';

export interface Stack {
  redis: TestRedis;
  svc: TestService;
}

/** Registers beforeAll/afterAll; the returned object is filled in before the first test runs. */
export function useStack(opts: { commandTimeoutMs?: number } = {}): Stack {
  const stack = {} as Stack;
  beforeAll(async () => {
    stack.redis = await startRedis();
    stack.svc = await startService(stack.redis.url, undefined, undefined, opts.commandTimeoutMs);
  });
  afterAll(async () => {
    await stack.svc?.stop();
    await stack.redis?.stop();
  });
  return stack;
}
