/**
 * Raw HTTP for the gateway's property, fault and soak tests: any body (a
 * string sent byte for byte as UTF-8, or raw bytes), any headers, and always a
 * client timeout, so a hang is a test failure with the request named rather
 * than a jest timeout. Also the one check of the gateway's error body shape.
 */
import { STATUS_CODES } from 'node:http';

export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body (undefined when empty or not JSON). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Time from sending to the whole body read. */
  ms: number;
}

export interface SendOptions {
  method?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** The client's own bound: no answer by then throws (default 10 s). */
  timeoutMs?: number;
}

export class NoAnswer extends Error {
  constructor(readonly what: string, readonly timeoutMs: number, cause: unknown) {
    super(`no answer within ${timeoutMs} ms: ${what} (${cause instanceof Error ? cause.message : String(cause)})`);
    this.name = 'NoAnswer';
  }
}

export async function send(url: string, path: string, opts: SendOptions = {}): Promise<RawAnswer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const started = performance.now();
  let res: Response;
  let text: string;
  try {
    res = await fetch(url + path, {
      method: opts.method ?? 'POST',
      headers: opts.headers,
      body: opts.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (e) {
    const body = opts.body === undefined ? '' : typeof opts.body === 'string' ? opts.body : Buffer.from(opts.body).toString('latin1');
    throw new NoAnswer(`${opts.method ?? 'POST'} ${path} ${JSON.stringify(body.slice(0, 200))}`, timeoutMs, e);
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body, ms: performance.now() - started };
}

/**
 * What is wrong with an error answer's body, if anything: it must be exactly
 * `{"id","code","detail","status"}` with `code` the HTTP status, `status` its
 * reason phrase, a non-empty `id` and `detail`, and no stack trace or path.
 */
export function errorShapeProblems(a: Pick<RawAnswer, 'status' | 'body' | 'text'>): string[] {
  const problems: string[] = [];
  const b = a.body as Record<string, unknown> | undefined;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return [`body is not a JSON object: ${a.text.slice(0, 200)}`];
  const keys = Object.keys(b).sort();
  if (keys.join(',') !== 'code,detail,id,status') problems.push(`keys are ${keys.join(',')}`);
  if (b.code !== a.status) problems.push(`code ${String(b.code)} is not the HTTP status ${a.status}`);
  if (b.status !== STATUS_CODES[a.status]) problems.push(`status ${String(b.status)} is not "${STATUS_CODES[a.status]}"`);
  if (typeof b.id !== 'string' || !/^[A-Z_]+$/.test(b.id)) problems.push(`id ${String(b.id)} is not an error id`);
  if (typeof b.detail !== 'string' || b.detail.length === 0) problems.push('detail is empty');
  else if (/\n\s+at |\.ts:\d|\.js:\d|node_modules/.test(b.detail)) problems.push(`detail shows internals: ${b.detail}`);
  return problems;
}
