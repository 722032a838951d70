/**
 * One error class for every failure a caller sees: the contract's error id
 * (google.rpc.ErrorInfo.reason in grpc-status-details-bin), the gRPC code,
 * the field at fault (ErrorInfo metadata "field") and, when the service sent
 * a google.rpc.RetryInfo, how long to wait before trying again.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { status as grpcStatus, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { ErrorInfoSchema, RetryInfoSchema } from './gen/google/rpc/error_details_pb';
import { StatusSchema } from './gen/google/rpc/status_pb';

export const DETAILS_KEY = 'grpc-status-details-bin';

export class ParleyError extends Error {
  /** The contract's error id (README, "Errors"): `NOT_FOUND`, `MISSING_TEXT`, `RATE_LIMITED`, …; for a
   *  failure the service did not describe (a dropped connection, a deadline passed in the client),
   *  the gRPC code's name (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, …). */
  readonly id: string;
  /** The gRPC status code (`@grpc/grpc-js` `status`). */
  readonly code: number;
  /** The request field at fault, when the service named one (snake_case, as in the proto). */
  readonly field?: string;
  /** The RetryInfo delay, when the service sent one (RATE_LIMITED). */
  readonly retryAfterMs?: number;
  /** The service's human detail. */
  readonly detail: string;
  /** The full method, e.g. `/threads.Threads/CreateMessage`. */
  readonly method?: string;

  constructor(init: { id: string; code: number; detail: string; field?: string; retryAfterMs?: number; method?: string }) {
    super(`${init.id}: ${init.detail}${init.method ? ` (${init.method})` : ''}`);
    this.name = 'ParleyError';
    this.id = init.id;
    this.code = init.code;
    this.detail = init.detail;
    this.field = init.field;
    this.retryAfterMs = init.retryAfterMs;
    this.method = init.method;
  }
}

/** The ErrorInfo reason and field and the RetryInfo delay a status's metadata carries. */
export function richDetails(metadata: Metadata | undefined): { reason?: string; field?: string; retryAfterMs?: number } {
  const raw = metadata?.get(DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return {};
  const out: { reason?: string; field?: string; retryAfterMs?: number } = {};
  try {
    for (const d of fromBinary(StatusSchema, raw).details) {
      const info = anyUnpack(d, ErrorInfoSchema);
      if (info) {
        out.reason = info.reason || undefined;
        out.field = info.metadata.field || undefined;
      }
      const delay = anyUnpack(d, RetryInfoSchema)?.retryDelay;
      if (delay) out.retryAfterMs = Number(delay.seconds) * 1000 + delay.nanos / 1e6;
    }
  } catch {
    // Not a google.rpc.Status: the code alone describes the failure.
  }
  return out;
}

const CODE_NAMES = Object.fromEntries(Object.entries(grpcStatus).map(([name, code]) => [code, name])) as Record<number, string>;

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}

/** Any failure as a ParleyError (a ParleyError as is). */
export function toParleyError(err: unknown, method?: string): ParleyError {
  if (err instanceof ParleyError) return err;
  const se = err as Partial<ServiceError>;
  if (typeof se?.code === 'number') {
    const rich = richDetails(se.metadata);
    return new ParleyError({
      id: rich.reason ?? codeName(se.code),
      code: se.code,
      detail: se.details ?? se.message ?? '',
      field: rich.field,
      retryAfterMs: rich.retryAfterMs,
      method,
    });
  }
  return new ParleyError({ id: 'UNKNOWN', code: grpcStatus.UNKNOWN, detail: err instanceof Error ? err.message : String(err), method });
}
