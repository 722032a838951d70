/**
 * Every failure the HTTP transport answers goes through here: an id of the
 * one error table (`src/core/errors.ts`, which gives its HTTP status), one
 * function from a gRPC status to an HTTP error (the remote mode), and one
 * writer. Routing and body errors (404, 405, 413, 400) are built by the same
 * constructor, so every error body has the same shape:
 * `{"id", "code", "detail", "status"}`. No body ever carries a stack trace, an
 * address or another internal: a 500 always says "Internal error", and a
 * status that did not come from this service (no ErrorInfo) gets a generic
 * detail for 5xx.
 */
import { STATUS_CODES } from 'node:http';
import { status as grpcStatus, type Metadata } from '@grpc/grpc-js';
import type { Response } from 'express';
import { httpStatusOf, isErrorId, type ErrorId } from '../src/core/errors';
import { richDetails } from '../src/transports/grpc/status';

/** The JSON body of every error answer. */
export interface ErrorBody {
  /** What callers match on: the service's `ErrorInfo.reason` (e.g. MISSING_TEXT), or the gateway's own id. */
  id: string;
  /** The HTTP status, repeated in the body. */
  code: number;
  /** A human sentence. */
  detail: string;
  /** The HTTP reason phrase, e.g. "Bad Request". */
  status: string;
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** The gRPC status fields the mapping reads (a grpc-js ServiceError has them). */
export interface GrpcFailure {
  code: number;
  details?: string;
  metadata?: Metadata;
}

/**
 * gRPC code → HTTP status. Only the codes this service uses have their own
 * status; anything else (UNKNOWN, INTERNAL, CANCELLED, DATA_LOSS, …) is an
 * unexpected failure, 500.
 */
export const HTTP_STATUS_BY_CODE: Readonly<Partial<Record<grpcStatus, number>>> = {
  [grpcStatus.INVALID_ARGUMENT]: 400,
  [grpcStatus.NOT_FOUND]: 404,
  [grpcStatus.UNAUTHENTICATED]: 401,
  [grpcStatus.PERMISSION_DENIED]: 403,
  [grpcStatus.FAILED_PRECONDITION]: 400,
  [grpcStatus.RESOURCE_EXHAUSTED]: 429,
  [grpcStatus.UNAVAILABLE]: 503,
  [grpcStatus.DEADLINE_EXCEEDED]: 504,
};

export function httpStatusFromCode(code: number): number {
  return HTTP_STATUS_BY_CODE[code as grpcStatus] ?? 500;
}

/** The id when a status carries no ErrorInfo (it came from grpc-js or a proxy, not the service). */
const FALLBACK: Readonly<Record<number, { id: ErrorId; detail: string }>> = {
  [grpcStatus.INVALID_ARGUMENT]: { id: 'INVALID_ARGUMENT', detail: 'Invalid argument' },
  [grpcStatus.NOT_FOUND]: { id: 'NOT_FOUND', detail: 'Not found' },
  [grpcStatus.UNAUTHENTICATED]: { id: 'UNAUTHORIZED', detail: 'Unauthorized' },
  [grpcStatus.PERMISSION_DENIED]: { id: 'FORBIDDEN', detail: 'Forbidden' },
  [grpcStatus.FAILED_PRECONDITION]: { id: 'INVALID_ARGUMENT', detail: 'Failed precondition' },
  [grpcStatus.RESOURCE_EXHAUSTED]: { id: 'RESOURCE_EXHAUSTED', detail: 'Resource exhausted' },
  [grpcStatus.UNAVAILABLE]: { id: 'UNAVAILABLE', detail: 'The service is unavailable, try again' },
  [grpcStatus.DEADLINE_EXCEEDED]: { id: 'DEADLINE_EXCEEDED', detail: 'Deadline exceeded' },
};

const INTERNAL = { id: 'INTERNAL', detail: 'Internal error' } as const;

/** The Retry-After header of a delay (RFC 9110 section 10.2.3: a whole number of seconds), or none. */
export function retryAfter(delayMs: number | undefined): Record<string, string> {
  return delayMs === undefined ? {} : { 'retry-after': String(Math.max(0, Math.ceil(delayMs / 1000))) };
}

/** An error answer of an id of the table: its status, the body of the one shape, extra headers. */
export function httpError(id: ErrorId, detail: string, headers: Record<string, string> = {}): HttpError {
  return answer(httpStatusOf(id), id, detail, headers);
}

function answer(status: number, id: string, detail: string, headers: Record<string, string>): HttpError {
  return { status, body: { id, code: status, detail, status: STATUS_CODES[status] ?? 'Error' }, headers };
}

/**
 * THE mapping: a gRPC status (with the ErrorInfo reason and RetryInfo delay in
 * its `grpc-status-details-bin`) → the HTTP error a JSON caller sees.
 */
export function errorFromStatus(err: GrpcFailure): HttpError {
  const status = httpStatusFromCode(err.code);
  const { reason, retryDelayMs } = richDetails(err.metadata);
  const headers = retryAfter(retryDelayMs);
  if (status === 500) return httpError(INTERNAL.id, INTERNAL.detail, headers);
  const fallback = FALLBACK[err.code] ?? INTERNAL;
  // A reason of this service's table: that id's own status (FAILED_PRECONDITION ids are 409, one code serves several statuses).
  if (reason && isErrorId(reason)) return answer(httpStatusOf(reason), reason, err.details || fallback.detail, headers);
  // Not from this service: a client-side 4xx detail is the caller's business, a 5xx one may name hosts.
  const detail = status < 500 && err.details ? err.details : fallback.detail;
  return answer(status, fallback.id, detail, headers);
}

export function isHttpError(e: unknown): e is HttpError {
  return typeof e === 'object' && e !== null && 'status' in e && 'body' in e && 'headers' in e;
}

/** The one writer: status, headers, the JSON body. */
export function writeError(res: Response, e: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  res.status(e.status).type('application/json').send(JSON.stringify(e.body));
}
