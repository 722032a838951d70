/**
 * A call's context from its gRPC metadata: the caller's namespace (from the
 * bearer token) and a logger that carries the request id (`x-request-id`,
 * which the gateway forwards; one is made up when absent). Reflection and
 * health are separate services that do not pass through here: they stay
 * open, so load balancers and grpcurl need no token.
 */
import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { KeyRing } from '../auth/api-keys';
import { authenticate } from '../auth/authenticate';
import type { Throttle } from '../core/throttle';
import type { Logger } from '../log';
import type { ContextOf } from './unary';

function first(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

export function makeContextOf(keys: KeyRing, log: Logger, throttle?: Throttle): ContextOf {
  return async (call) => {
    const md = call.metadata;
    const given = first(md, 'x-request-id')?.slice(0, 128);
    const ns = authenticate(keys, first(md, 'authorization'), first(md, 'micro-namespace'));
    if (throttle) await throttle.namespace(ns);
    // The request id and its child logger are made only when something logs.
    let requestId: string | undefined = given || undefined;
    let callLog: Logger | undefined;
    const id = () => (requestId ??= randomUUID());
    return {
      ns,
      get requestId() {
        return id();
      },
      get log() {
        return (callLog ??= log.child({ requestId: id() }));
      },
    };
  };
}
