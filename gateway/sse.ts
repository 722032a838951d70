/**
 * Server-Sent Events for server-streaming methods (README, "The live feed"):
 * `POST /{package}/{Service}/Subscribe` with the JSON body, or `GET` with the
 * request's fields as query parameters (a key repeated for a list). Each
 * item is one frame
 *
 *   event: <Event.type>
 *   id: <resume id: where the whole subscription stands>
 *   data: <the Event as proto3 JSON, one line>
 *
 * and a comment line goes out every FEED_HEARTBEAT_MS so proxies keep the
 * stream open. A failure before the first item is an ordinary JSON error
 * answer (401, 400, 404…); one after it is a last frame `event: error` with
 * the same JSON error body, then the stream ends. Writes wait for the socket
 * to drain, so a slow reader slows its subscription (and, past
 * FEED_MAX_BUFFERED_EVENTS, ends it with SLOW_CONSUMER) instead of growing
 * memory here.
 */
import type { Response } from 'express';
import type { DescMessage } from '@bufbuild/protobuf';
import { httpError, writeError, type HttpError } from './errors';

/** One item of a stream as the HTTP transport writes it. */
export interface SseItem {
  /** The `event:` name. */
  event: string;
  /** The `data:` line: JSON without newlines. */
  data: string;
  /** The `id:` (omitted when undefined). */
  id?: string;
}

/**
 * A GET's query as a JSON request object: a repeated field takes every value
 * of its key, any other field its only value (given twice: 400 naming it);
 * keys that are not fields are ignored like unknown JSON fields.
 */
export function queryToJson(input: DescMessage, query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(query)) {
    const field = input.fields.find((f) => f.name === key || f.jsonName === key);
    if (!field) continue;
    const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
    if (field.fieldKind === 'list') out[key] = values;
    else if (values.length === 1) out[key] = values[0];
    else throw httpError('INVALID_ARGUMENT', `Invalid value for ${field.name}: give it once`);
  }
  return out;
}

/** Writes `items` as SSE until they end, the caller leaves, or `stop` fires; failures as described above. */
export async function writeSse(
  res: Response,
  items: AsyncIterator<SseItem>,
  opts: { heartbeatMs: number; signal: AbortSignal; answerFor(err: unknown): HttpError },
): Promise<void> {
  let first: IteratorResult<SseItem>;
  try {
    first = await items.next();
  } catch (err) {
    writeError(res, opts.answerFor(err));
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // nginx and similar proxies pass each frame on at once.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const heartbeat = setInterval(() => {
    if (!res.writableNeedDrain) res.write(': keep-alive\n\n');
  }, opts.heartbeatMs);
  try {
    for (let r = first; !r.done; r = await items.next()) {
      if (opts.signal.aborted) break;
      const { event, id, data } = r.value;
      const frame = `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${data}\n\n`;
      if (!res.write(frame)) await drained(res, opts.signal);
    }
  } catch (err) {
    if (!opts.signal.aborted && !res.destroyed) res.write(`event: error\ndata: ${JSON.stringify(opts.answerFor(err).body)}\n\n`);
  } finally {
    clearInterval(heartbeat);
    await items.return?.();
    res.end();
  }
}

function drained(res: Response, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const finish = () => {
      res.off('drain', finish);
      res.off('close', finish);
      signal.removeEventListener('abort', finish);
      done();
    };
    res.once('drain', finish);
    res.once('close', finish);
    signal.addEventListener('abort', finish, { once: true });
  });
}
