/**
 * The one function that turns anything thrown by a handler into a gRPC status.
 * An AppError keeps its code and detail, and its id travels as
 * google.rpc.ErrorInfo.reason inside grpc-status-details-bin (a serialized
 * google.rpc.Status, the standard rich-error channel). Anything else is
 * INTERNAL with a generic message; the real error goes to the log only.
 */
import { Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { AppError, type Code } from '../core/errors';
import { ErrorInfo, RetryInfo } from '../gen/google/rpc/error_details';
import { Status } from '../gen/google/rpc/status';
import type { Logger } from '../log';

export const ERROR_DOMAIN = 'parley';
export const DETAILS_KEY = 'grpc-status-details-bin';

export const GRPC_CODE: Record<Code, grpcStatus> = {
  INVALID_ARGUMENT: grpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: grpcStatus.NOT_FOUND,
  UNAUTHENTICATED: grpcStatus.UNAUTHENTICATED,
  PERMISSION_DENIED: grpcStatus.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: grpcStatus.RESOURCE_EXHAUSTED,
  UNAVAILABLE: grpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: grpcStatus.DEADLINE_EXCEEDED,
  INTERNAL: grpcStatus.INTERNAL,
};

export function toServiceError(err: unknown, log: Logger): Partial<ServiceError> {
  let app: AppError;
  if (err instanceof AppError) {
    app = err;
  } else {
    log.error({ err }, 'unexpected error');
    app = new AppError('INTERNAL');
  }
  const code = GRPC_CODE[app.code];
  const details = [
    {
      typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
      value: Buffer.from(ErrorInfo.encode({
        reason: app.id,
        domain: ERROR_DOMAIN,
        metadata: app.field ? { field: app.field } : {},
      }).finish()),
    },
  ];
  if (app.retryAfterMs !== undefined) {
    const ms = Math.max(0, Math.ceil(app.retryAfterMs));
    details.push({
      typeUrl: 'type.googleapis.com/google.rpc.RetryInfo',
      value: Buffer.from(RetryInfo.encode({
        retryDelay: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
      }).finish()),
    });
  }
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(Status.encode({ code, message: app.detail, details }).finish()));
  return { code, details: app.detail, metadata };
}

/**
 * The reverse, for clients of this service (the gateway, tests): the
 * ErrorInfo reason and RetryInfo delay a status carries, when it has them.
 */
export function richDetails(metadata: Metadata | undefined): { reason?: string; retryDelayMs?: number } {
  const raw = metadata?.get(DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return {};
  try {
    const out: { reason?: string; retryDelayMs?: number } = {};
    for (const d of Status.decode(raw).details) {
      if (d.typeUrl.endsWith('/google.rpc.ErrorInfo')) out.reason = ErrorInfo.decode(d.value).reason || undefined;
      if (d.typeUrl.endsWith('/google.rpc.RetryInfo')) {
        const delay = RetryInfo.decode(d.value).retryDelay;
        if (delay) out.retryDelayMs = Number(delay.seconds) * 1000 + delay.nanos / 1e6;
      }
    }
    return out;
  } catch {
    return {};
  }
}

export const reasonOf = (metadata: Metadata | undefined): string | undefined => richDetails(metadata).reason;
