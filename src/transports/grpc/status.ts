/**
 * The one function that turns anything an operation throws into a gRPC
 * status. An AppError keeps its code and detail, and its id travels as
 * google.rpc.ErrorInfo.reason inside grpc-status-details-bin (a serialized
 * google.rpc.Status, the standard rich-error channel). Anything else is
 * INTERNAL with a generic message; the real error goes to the log only.
 */
import { Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { anyPack, anyUnpack, type Any } from '@bufbuild/protobuf/wkt';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AppError, type Code } from '../../core/errors';
import { ErrorInfoSchema, RetryInfoSchema } from '../../gen/google/rpc/error_details_pb';
import { StatusSchema } from '../../gen/google/rpc/status_pb';
import type { Logger } from '../../log';

export const ERROR_DOMAIN = 'parley';
export const DETAILS_KEY = 'grpc-status-details-bin';

export const GRPC_CODE: Record<Code, grpcStatus> = {
  INVALID_ARGUMENT: grpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: grpcStatus.NOT_FOUND,
  UNAUTHENTICATED: grpcStatus.UNAUTHENTICATED,
  PERMISSION_DENIED: grpcStatus.PERMISSION_DENIED,
  FAILED_PRECONDITION: grpcStatus.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: grpcStatus.RESOURCE_EXHAUSTED,
  UNAVAILABLE: grpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: grpcStatus.DEADLINE_EXCEEDED,
  INTERNAL: grpcStatus.INTERNAL,
};

/** An AppError as is; anything else logged and made INTERNAL (no internals reach the caller). */
export function asAppError(err: unknown, log: Logger): AppError {
  if (err instanceof AppError) return err;
  log.error({ err }, 'unexpected error');
  return new AppError('INTERNAL');
}

export function toServiceError(err: unknown, log: Logger): Partial<ServiceError> {
  const app = asAppError(err, log);
  const code = GRPC_CODE[app.code];
  const details: Any[] = [
    anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: app.id, domain: ERROR_DOMAIN, metadata: app.field ? { field: app.field } : {} })),
  ];
  if (app.retryAfterMs !== undefined) {
    const ms = Math.max(0, Math.ceil(app.retryAfterMs));
    details.push(anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 } })));
  }
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(toBinary(StatusSchema, create(StatusSchema, { code, message: app.detail, details }))));
  return { code, details: app.detail, metadata };
}

/**
 * The reverse, for clients of this service (the remote gateway, tests): the
 * ErrorInfo reason and field and the RetryInfo delay a status carries, when it has them.
 */
export function richDetails(metadata: Metadata | undefined): { reason?: string; field?: string; retryDelayMs?: number } {
  const raw = metadata?.get(DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return {};
  try {
    const out: { reason?: string; field?: string; retryDelayMs?: number } = {};
    for (const d of fromBinary(StatusSchema, raw).details) {
      const info = anyUnpack(d, ErrorInfoSchema);
      if (info) {
        out.reason = info.reason || undefined;
        out.field = info.metadata.field;
      }
      const delay = anyUnpack(d, RetryInfoSchema)?.retryDelay;
      if (delay) out.retryDelayMs = Number(delay.seconds) * 1000 + delay.nanos / 1e6;
    }
    return out;
  } catch {
    return {};
  }
}

export const reasonOf = (metadata: Metadata | undefined): string | undefined => richDetails(metadata).reason;
