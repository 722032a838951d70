/**
 * The usual setup of a test file: a fresh redis-server and the service over
 * it, started before the file's tests and stopped after them.
 */
import type { GatewayOptions } from '../../gateway/app';
import { bearer, startGateway, type TestGateway } from './gateway';
import { startRedis, type TestRedis } from './redis';
import { startService, TEST_TOKEN, type TestService } from './service';

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

export interface GatewayStack extends Stack {
  /** The gateway in front of `svc` (in-process or remote: GATEWAY_MODE); its calls carry the test token. */
  gw: TestGateway;
}

/** useStack() plus the JSON gateway in front of the service. */
export function useGatewayStack(opts: Partial<GatewayOptions> = {}): GatewayStack {
  const stack = useStack() as GatewayStack;
  beforeAll(async () => {
    stack.gw = await startGateway(stack.svc, opts, bearer(TEST_TOKEN));
  });
  afterAll(async () => {
    await stack.gw?.stop();
  });
  return stack;
}
