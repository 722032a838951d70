/**
 * Subscribe as Server-Sent Events through the HTTP transport (in-process,
 * and remote in the gateway-remote project), read by a real SSE parser
 * (eventsource-parser) over Node's fetch: GET with query parameters and POST
 * with JSON, the framing, heartbeats, Last-Event-ID resuming every container
 * of the subscription, and JSON errors before the stream starts.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { TEST_TOKEN } from '../helpers/service';
import { useGatewayStack } from '../helpers/stack';

const HEARTBEAT_MS = 300;
const s = useGatewayStack({ heartbeatMs: HEARTBEAT_MS });
const auth = { authorization: `Bearer ${TEST_TOKEN}` };

interface Sse {
  status: number;
  contentType: string | null;
  events: EventSourceMessage[];
  comments: string[];
  /** Resolves once `pred` holds over the events so far. */
  until(pred: (events: EventSourceMessage[]) => boolean, what: string): Promise<void>;
  close(): void;
}

const open: Sse[] = [];
afterEach(() => open.splice(0).forEach((x) => x.close()));

async function sse(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Sse> {
  const ac = new AbortController();
  const res = await fetch(s.gw.url + path, {
    method: init.method ?? 'GET',
    headers: { ...auth, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: ac.signal,
  });
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  let wake: () => void = () => undefined;
  const parser = createParser({
    onEvent: (e) => {
      events.push(e);
      wake();
    },
    onComment: (c) => {
      comments.push(c);
      wake();
    },
  });
  let ended = false;
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch {
        // aborted by close()
      }
      ended = true;
      wake();
    })();
  }
  const out: Sse = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    comments,
    async until(pred, what) {
      const deadline = Date.now() + 10_000;
      while (!pred(events)) {
        if (ended || Date.now() > deadline) throw new Error(`no ${what}; saw ${events.map((e) => e.event).join(',')}`);
        await new Promise<void>((done) => {
          wake = done;
          setTimeout(done, 100);
        });
      }
    },
    close: () => ac.abort(),
  };
  if (!out.contentType?.startsWith('text/event-stream')) {
    (out as Sse & { json: unknown }).json = await res.json();
  }
  open.push(out);
  return out;
}

const data = (e: EventSourceMessage) => JSON.parse(e.data) as { type: string; thread_id: string; cursor: string; message: { text: string; seq: string } | null };
const liveIn = (events: EventSourceMessage[]) => events.some((e) => e.event === 'live');
const texts = (events: EventSourceMessage[]) => events.filter((e) => e.event === 'created').map((e) => data(e).message!.text);

async function thread(): Promise<string> {
  return (await s.gw.post('/threads/Threads/CreateThread', { group_id: 'g', topic: 't' })).body.thread.id;
}
async function post(threadId: string, ...textsToSend: string[]): Promise<void> {
  for (const text of textsToSend) {
    const r = await s.gw.post('/threads/Threads/CreateMessage', { thread_id: threadId, author_id: 'a', text });
    expect(r.status).toBe(200);
  }
}

it('GET with query parameters: replay after feed_cursor, live, then new events, each framed with event, id and data', async () => {
  const t = await thread();
  const cursor = (await s.gw.post('/threads/Threads/ListMessages', { thread_id: t })).body.feed_cursor;
  await post(t, 'one', 'two');
  const x = await sse(`/threads/Threads/Subscribe?thread_ids=${t}&after=${cursor}`);
  expect(x.status).toBe(200);
  expect(x.contentType).toMatch(/^text\/event-stream/);
  await x.until(liveIn, 'live');
  await post(t, 'three');
  await x.until((ev) => texts(ev).length === 3, 'three messages');
  expect(x.events.map((e) => e.event)).toEqual(['created', 'created', 'live', 'created']);
  expect(texts(x.events)).toEqual(['one', 'two', 'three']);
  for (const e of x.events) expect(e.id).toMatch(/^[A-Za-z0-9_-]+$/);
  const first = data(x.events[0]);
  expect(first).toMatchObject({ type: 'created', thread_id: t, message: { text: 'one', seq: '1' } });
  expect(first.cursor).not.toBe('');
});

it('POST with a JSON body serves the same stream; a heartbeat comment comes while nothing happens', async () => {
  const t = await thread();
  const x = await sse('/threads/Threads/Subscribe', { method: 'POST', body: { thread_ids: [t] } });
  await x.until(liveIn, 'live');
  await post(t, 'hello');
  await x.until((ev) => texts(ev).length === 1, 'one message');
  await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 2.5));
  expect(x.comments.length).toBeGreaterThan(0);
});

it('Last-Event-ID resumes every container of the subscription with no gap and no duplicate', async () => {
  const [a, b, quiet] = [await thread(), await thread(), await thread()];
  const query = `/threads/Threads/Subscribe?thread_ids=${a}&thread_ids=${b}&thread_ids=${quiet}`;
  const x = await sse(query);
  await x.until(liveIn, 'live');
  await post(a, 'a1');
  await post(b, 'b1');
  await post(a, 'a2');
  await x.until((ev) => texts(ev).length === 3, 'three messages');
  const lastId = x.events[x.events.length - 1].id!;
  x.close();
  // Meanwhile, in all three threads (the quiet one had no event before the disconnect).
  await post(b, 'b2');
  await post(quiet, 'q1');
  await post(a, 'a3');
  const y = await sse(query, { headers: { 'last-event-id': lastId } });
  await y.until(liveIn, 'live');
  expect(texts(y.events).sort()).toEqual(['a3', 'b2', 'q1']);
  await post(b, 'b3');
  await y.until((ev) => texts(ev).includes('b3'), 'b3');
  expect(texts(y.events).filter((t) => t === 'b3')).toHaveLength(1);
});

it('failures before the stream starts are JSON answers: 401, 400 naming the field, 404, 405', async () => {
  const t = await thread();
  const noToken = await fetch(`${s.gw.url}/threads/Threads/Subscribe?thread_ids=${t}`);
  expect(noToken.status).toBe(401);
  expect(await noToken.json()).toMatchObject({ id: 'UNAUTHORIZED', code: 401 });

  const missing = await sse('/threads/Threads/Subscribe');
  expect(missing.status).toBe(400);
  expect((missing as Sse & { json: unknown }).json).toMatchObject({ id: 'MISSING_THREAD_IDS' });

  const badCursor = await sse(`/threads/Threads/Subscribe?thread_ids=${t}&after=nope`);
  expect(badCursor.status).toBe(400);
  expect((badCursor as Sse & { json: { id: string; detail: string } }).json).toMatchObject({ id: 'INVALID_CURSOR' });

  const badResume = await sse(`/threads/Threads/Subscribe?thread_ids=${t}`, { headers: { 'last-event-id': 'AAAA' } });
  expect(badResume.status).toBe(400);
  expect((badResume as Sse & { json: unknown }).json).toMatchObject({ id: 'INVALID_CURSOR' });

  const absent = await sse('/threads/Threads/Subscribe?thread_ids=no-such-thread');
  expect(absent.status).toBe(404);

  const put = await s.gw.request('/threads/Threads/Subscribe', undefined, { method: 'PUT' });
  expect(put.status).toBe(405);
  expect(put.headers.get('allow')).toBe('GET, POST');
});

it('chats by user_id and streams by conversation_ids over SSE', async () => {
  const chat = (await s.gw.post('/chats/Chats/CreateChat', { user_ids: ['sse-a', 'sse-b'] })).body.chat.id;
  const x = await sse('/chats/Chats/Subscribe?user_id=sse-a');
  await x.until(liveIn, 'live');
  await s.gw.post('/chats/Chats/SendMessage', { chat_id: chat, author_id: 'sse-b', text: 'hey' });
  await x.until((ev) => ev.some((e) => e.event === 'created'), 'a chat message');
  expect(JSON.parse(x.events.find((e) => e.event === 'created')!.data)).toMatchObject({ chat_id: chat, message: { text: 'hey' } });

  const conv = (await s.gw.post('/streams/Streams/CreateConversation', { group_id: 'g', topic: 't' })).body.conversation.id;
  const y = await sse(`/streams/Streams/Subscribe?conversation_ids=${conv}`);
  await y.until(liveIn, 'live');
  await s.gw.post('/streams/Streams/CreateMessage', { conversation_id: conv, author_id: 'u', text: 'yo' });
  await y.until((ev) => ev.some((e) => e.event === 'created'), 'a conversation message');
  expect(JSON.parse(y.events.find((e) => e.event === 'created')!.data)).toMatchObject({ conversation_id: conv, message: { text: 'yo' } });
});
