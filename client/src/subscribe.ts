/**
 * The live feed as an async iterator that resumes by itself.
 *
 * It keeps the last cursor per container: for a container the caller gave no
 * cursor for, the ListMessages feed_cursor read by subscribe() before it
 * resolves (so nothing accepted after that is missed); then each yielded
 * event's cursor. When the stream fails with UNAVAILABLE (the service stopped,
 * restarted, lost Redis, or the connection dropped), RESOURCE_EXHAUSTED
 * SLOW_CONSUMER or RATE_LIMITED, or ends without a status, it waits (backoff
 * with jitter; RetryInfo when sent) and subscribes again with `after` = those
 * cursors: the service replays what came after each, so nothing is lost, and
 * an event at or before a container's last position is dropped, so nothing is
 * yielded twice. `resync_required` and `live` are yielded like any event.
 * Breaking out of the loop (or close(), or the AbortSignal) cancels the stream.
 */
import { create, fromBinary, toBinary, type DescMethod, type MessageShape } from '@bufbuild/protobuf';
import { status, type ClientReadableStream } from '@grpc/grpc-js';
import { backoffMs, sleep } from './backoff';
import type { Caller } from './client';
import { ParleyError, toParleyError } from './errors';
import { Chats as ChatsService } from './gen/chats/chats_pb';
import { Streams as StreamsService } from './gen/streams/streams_pb';
import { Threads as ThreadsService } from './gen/threads/threads_pb';

/** Per API: its Subscribe and ListMessages, the names of its id fields, and a page size of one (Streams' limit is an Int32Value). */
export const FEEDS = {
  threads: { api: 'threads', subscribe: ThreadsService.method.subscribe, list: ThreadsService.method.listMessages, ids: 'threadIds', container: 'threadId', one: 1n },
  chats: { api: 'chats', subscribe: ChatsService.method.subscribe, list: ChatsService.method.listMessages, ids: 'chatIds', container: 'chatId', one: 1n },
  streams: { api: 'streams', subscribe: StreamsService.method.subscribe, list: StreamsService.method.listMessages, ids: 'conversationIds', container: 'conversationId', one: 1 },
} as const;

export type Api = keyof typeof FEEDS;
type Feed<A extends Api> = (typeof FEEDS)[A];
export type EventOf<A extends Api> = MessageShape<Feed<A>['subscribe']['output']>;

/** Where to start: a cursor per container id (an Event's cursor or a ListMessages feed_cursor). Containers left out start now. */
type After = { after?: Record<string, string> };
export interface SubscribeRequests {
  threads: { threadIds: string[] } & After;
  chats: { chatIds: string[] } & After;
  streams: { conversationIds: string[] } & After;
}

export interface SubscribeOptions {
  /** Ends the iteration (the loop then finishes normally). */
  signal?: AbortSignal;
  /** Called before each reconnect with the failure that ended the stream. */
  onReconnect?: (err: ParleyError, attempt: number) => void;
  /** Reconnects in a row without reaching `live` before the failure is thrown (default: no limit). */
  maxReconnects?: number;
}

/** What makes the feed reconnect rather than throw. */
export function resumable(err: ParleyError): boolean {
  if (err.code === status.UNAVAILABLE) return true;
  if (err.code === status.RESOURCE_EXHAUSTED) return err.id === 'SLOW_CONSUMER' || err.id === 'RATE_LIMITED';
  return false;
}

/**
 * The position a feed cursor names. Cursors are opaque, but the README says the position is in the
 * clear (src/core/cursors.ts: version, type 3 = feed, uint64 BE position, …); only used to drop an
 * event at or before one already yielded. Undefined when the string is not shaped like that.
 */
export function feedPosition(cursor: string): bigint | undefined {
  const b = Buffer.from(cursor, 'base64url');
  if (b.length < 10 || b[0] !== 1 || b[1] !== 3) return undefined;
  return b.readBigUInt64BE(2);
}

export class Subscription<A extends Api> implements AsyncIterable<EventOf<A>> {
  /** True between a `live` event and the next failure: the feed is caught up and streaming. */
  live = false;
  /** Reconnects so far. */
  reconnects = 0;
  private readonly positions = new Map<string, string>();
  private readonly ids: string[];
  private call?: ClientReadableStream<EventOf<A>>;
  private closed = false;
  private started = false;

  constructor(
    private readonly caller: Caller,
    private readonly feed: Feed<A>,
    req: SubscribeRequests[A],
    private readonly opts: SubscribeOptions = {},
  ) {
    this.ids = [...((req as unknown as Record<string, string[]>)[feed.ids] ?? [])];
    for (const [id, cursor] of Object.entries(req.after ?? {})) if (cursor) this.positions.set(id, cursor);
    opts.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** The last cursor per container: persist it to resume later with `after`. */
  cursors(): Record<string, string> {
    return Object.fromEntries(this.positions);
  }

  /** Ends the iteration and cancels the stream. */
  close(): void {
    this.closed = true;
    this.call?.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<EventOf<A>> {
    if (this.started) throw new Error('a Subscription can be iterated once');
    this.started = true;
    return this.run();
  }

  /**
   * Reads a starting position (ListMessages' feed_cursor) for every container without one. The
   * client's subscribe() awaits it, so whatever is accepted after subscribe() resolves is delivered.
   */
  async prepare(): Promise<this> {
    await Promise.all(
      this.ids
        .filter((id) => !this.positions.has(id))
        .map(async (id) => {
          const list: DescMethod = this.feed.list;
          const page = await this.caller.unary(list, { [this.feed.container]: id, limit: this.feed.one }, { signal: this.opts.signal });
          this.positions.set(id, (page as unknown as { feedCursor: string }).feedCursor);
        }),
    );
    return this;
  }

  private async *run(): AsyncGenerator<EventOf<A>> {
    try {
      await this.prepare();
      let failures = 0;
      while (!this.closed) {
        let failure: ParleyError;
        const call = this.open();
        try {
          for await (const ev of call as AsyncIterable<EventOf<A>>) {
            if (ev.type === 'live') {
              this.live = true;
              failures = 0;
              yield ev;
              continue;
            }
            const id = (ev as unknown as Record<string, string>)[this.feed.container];
            if (ev.type !== 'resync_required' && this.seen(id, ev.cursor)) continue;
            if (ev.cursor) this.positions.set(id, ev.cursor);
            yield ev;
          }
          failure = new ParleyError({ id: 'UNAVAILABLE', code: status.UNAVAILABLE, detail: 'the stream ended without a status' });
        } catch (e) {
          failure = toParleyError(e, '/' + this.feed.subscribe.parent.typeName + '/Subscribe');
        } finally {
          call.cancel();
          this.call = undefined;
          this.live = false;
        }
        if (this.closed) return;
        if (!resumable(failure)) throw failure;
        failures++;
        if (failures > (this.opts.maxReconnects ?? Infinity)) throw failure;
        this.reconnects++;
        this.opts.onReconnect?.(failure, failures);
        const wait = failure.id === 'RATE_LIMITED' && failure.retryAfterMs !== undefined ? failure.retryAfterMs : backoffMs(failures, this.caller.backoff);
        try {
          await sleep(wait, this.opts.signal);
        } catch {
          return;
        }
      }
    } finally {
      this.close();
    }
  }

  /** Whether an event at `cursor` is at or before what was already yielded for container `id`. */
  private seen(id: string, cursor: string): boolean {
    const last = this.positions.get(id);
    if (last === undefined) return false;
    if (last === cursor) return true;
    const a = feedPosition(last);
    const b = feedPosition(cursor);
    return a !== undefined && b !== undefined && b <= a;
  }

  private open(): ClientReadableStream<EventOf<A>> {
    const method: DescMethod = this.feed.subscribe;
    const after = this.ids.map((id) => this.positions.get(id)).filter((c): c is string => !!c);
    const request = create(method.input, { [this.feed.ids]: this.ids, after });
    const call = this.caller.grpc.makeServerStreamRequest(
      `/${method.parent.typeName}/${method.name}`,
      (m: typeof request) => Buffer.from(toBinary(method.input, m)),
      (b: Buffer) => fromBinary(method.output, b) as EventOf<A>,
      request,
      this.caller.metadata(),
      {},
    );
    // The error is read through the iterator; this keeps a late one (after cancel) from being unhandled.
    call.on('error', () => undefined);
    this.call = call;
    return call;
  }
}
