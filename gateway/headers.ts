/**
 * What the gateway reads from request headers: the call's deadline, the
 * request id, and the headers forwarded to the service as gRPC metadata.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Metadata } from '@grpc/grpc-js';
import { MAX_DEADLINE_MS } from './settings';

/** Forwarded as gRPC metadata of the same name when present (the service authenticates with them). */
export const FORWARDED_HEADERS = ['authorization', 'micro-namespace', 'last-event-id'] as const;
export const REQUEST_ID_HEADER = 'x-request-id';

/** A header value the gateway refuses, with the header named. */
export class HeaderError extends Error {
  constructor(readonly header: string, detail: string) {
    super(detail);
    this.name = 'HeaderError';
  }
}

// gRPC over HTTP/2 (PROTOCOL-HTTP2.md): Timeout → TimeoutValue TimeoutUnit, at most 8 digits.
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** The first value of a header (Node joins most repeated headers, but not every one). */
export function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The call's timeout in milliseconds: from `grpc-timeout` (gRPC's format:
 * `500m`, `2S`, `1M`) or `x-timeout-ms` (whole milliseconds); with both, the
 * shorter; with neither, `defaultMs`. Capped at MAX_DEADLINE_MS. A malformed
 * value is refused rather than ignored, so a caller never waits longer than it
 * asked by mistake.
 */
export function timeoutMsOf(headers: IncomingHttpHeaders, defaultMs: number): number {
  const found: number[] = [];
  const grpcTimeout = single(headers, 'grpc-timeout');
  if (grpcTimeout !== undefined) {
    const m = GRPC_TIMEOUT.exec(grpcTimeout.trim());
    if (!m) throw new HeaderError('grpc-timeout', 'Invalid grpc-timeout header: expected up to 8 digits and a unit (H, M, S, m, u, n), e.g. 500m');
    found.push(Number(m[1]) * UNIT_MS[m[2]]);
  }
  const timeoutMs = single(headers, 'x-timeout-ms');
  if (timeoutMs !== undefined) {
    if (!/^\d{1,9}$/.test(timeoutMs.trim())) throw new HeaderError('x-timeout-ms', 'Invalid x-timeout-ms header: expected whole milliseconds, e.g. 2000');
    found.push(Number(timeoutMs.trim()));
  }
  return Math.min(found.length ? Math.min(...found) : defaultMs, MAX_DEADLINE_MS);
}

/** The caller's `x-request-id` when it is a sane token (visible ASCII, at most 128 characters), else a new UUID. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = single(headers, REQUEST_ID_HEADER);
  return given !== undefined && /^[\x21-\x7e]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * The headers passed on to the service (`authorization`, `micro-namespace`),
 * checked the same way in both gateway modes: gRPC ASCII metadata values are
 * printable ASCII only (PROTOCOL-HTTP2.md, ASCII-Value).
 */
export function forwardedHeaders(headers: IncomingHttpHeaders): Partial<Record<(typeof FORWARDED_HEADERS)[number], string>> {
  const out: Partial<Record<(typeof FORWARDED_HEADERS)[number], string>> = {};
  for (const name of FORWARDED_HEADERS) {
    const v = single(headers, name);
    if (v === undefined) continue;
    if (!/^[\x20-\x7e]*$/.test(v)) throw new HeaderError(name, `Invalid ${name} header: only printable ASCII is allowed`);
    out[name] = v;
  }
  return out;
}

/** The gRPC metadata of a call: the forwarded headers and the request id. */
export function metadataOf(headers: IncomingHttpHeaders, requestId: string): Metadata {
  const md = new Metadata();
  for (const [name, v] of Object.entries(forwardedHeaders(headers))) md.set(name, v);
  md.set(REQUEST_ID_HEADER, requestId);
  return md;
}
