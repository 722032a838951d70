/**
 * Live-feed subscribers over real gRPC: each collects the events of one
 * Subscribe call as they arrive, and can wait for a condition, pause
 * reading (a stalled client), or cancel.
 */
import { Client, credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { reasonOf } from '../../src/transports/grpc/status';
import { ChatsService, type Event as ChatEvent, type SubscribeRequest as ChatsSubscribe } from '../gen/chats/chats';
import { StreamsService, type Event as ConversationEvent, type SubscribeRequest as StreamsSubscribe } from '../gen/streams/streams';
import { ThreadsService, type Event as ThreadEvent, type SubscribeRequest as ThreadsSubscribe } from '../gen/threads/threads';

/** The fields every API's Event has, with its container id under one name. */
export interface FeedEvent {
  type: string;
  containerId: string;
  cursor: string;
  message?: { id: string; text: string; seq: string; authorId: string };
}

export interface Failure {
  code: number;
  reason?: string;
  details: string;
}

export class Feed {
  readonly events: FeedEvent[] = [];
  error?: Failure;
  ended = false;
  private waiters: (() => void)[] = [];

  constructor(
    readonly call: ClientReadableStream<ThreadEvent | ChatEvent | ConversationEvent>,
    private readonly client: Client,
  ) {
    call.on('data', (e: ThreadEvent & ChatEvent & ConversationEvent) => {
      this.events.push({
        type: e.type,
        containerId: e.threadId ?? e.chatId ?? e.conversationId ?? '',
        cursor: e.cursor,
        message: e.message && { id: e.message.id, text: e.message.text, seq: String(e.message.seq), authorId: e.message.authorId },
      });
      this.poke();
    });
    call.on('error', (err: ServiceError) => {
      this.error = { code: err.code, reason: reasonOf(err.metadata), details: err.details };
      this.ended = true;
      this.poke();
    });
    call.on('end', () => {
      this.ended = true;
      this.poke();
    });
  }

  private poke(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Waits until `pred` holds (checked on every event and at the end); fails after `timeoutMs` saying what it saw. */
  async until(pred: (f: Feed) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; saw ${this.events.length} events (${this.events.slice(-5).map((e) => e.type).join(',')}), error ${JSON.stringify(this.error)}`);
      }
      await new Promise<void>((done) => {
        const t = setTimeout(done, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          done();
        });
      });
    }
  }

  /** The events after `live` (or all of them when `live` has not come). */
  afterLive(): FeedEvent[] {
    const i = this.events.findIndex((e) => e.type === 'live');
    return this.events.slice(i + 1);
  }

  /** Waits for `live`, then for `n` events after it. */
  async live(n = 0, timeoutMs?: number): Promise<FeedEvent[]> {
    await this.until((f) => f.events.some((e) => e.type === 'live') || f.ended, 'live', timeoutMs);
    if (this.error) throw new Error(`stream failed: ${JSON.stringify(this.error)}`);
    await this.until((f) => f.afterLive().length >= n || f.ended, `${n} events after live`, timeoutMs);
    return this.afterLive();
  }

  /** Waits for the stream to fail; returns how. */
  async failure(timeoutMs?: number): Promise<Failure> {
    await this.until((f) => f.ended, 'the stream to end', timeoutMs);
    if (!this.error) throw new Error('the stream ended without an error');
    return this.error;
  }

  cancel(): void {
    this.call.cancel();
    this.client.close();
  }
}

type Api = 'threads' | 'chats' | 'streams';
type Requests = { threads: ThreadsSubscribe; chats: ChatsSubscribe; streams: StreamsSubscribe };
const SERVICES = { threads: ThreadsService, chats: ChatsService, streams: StreamsService };

/** Opens a Subscribe on its own connection. */
export function subscribe<A extends Api>(address: string, api: A, req: Partial<Requests[A]>, token?: string, md = new Metadata()): Feed {
  const def = SERVICES[api].subscribe;
  const client = new Client(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  if (token) md.set('authorization', `Bearer ${token}`);
  const defaults = def.requestDeserialize(Buffer.alloc(0));
  const call = client.makeServerStreamRequest(
    def.path,
    def.requestSerialize as (v: object) => Buffer,
    def.responseDeserialize as (b: Buffer) => ThreadEvent,
    { ...defaults, ...req },
    md,
    {},
  );
  return new Feed(call as never, client);
}
