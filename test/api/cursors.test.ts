/**
 * Keyset paging (README "Paging with cursors") over gRPC: walks in both orders while other
 * callers write, catching up with `before`, empty pages, cursors bound to their
 * list and namespace, the bad-input rules, and a property test of generated
 * interleavings of writes and page requests against a model.
 */
import fc from 'fast-check';
import { status } from '@grpc/grpc-js';
import { clients, failure } from '../helpers/grpc';
import { useStack } from '../helpers/stack';
import { OTHER_TOKEN, TEST_TOKEN } from '../helpers/service';

const s = useStack();

async function thread(topic: string, messages: number): Promise<string> {
  const { thread: t } = await s.svc.threads.createThread({ groupId: `g-${topic}`, topic });
  for (let i = 0; i < messages; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, messages - i) }, (_, j) => s.svc.threads.createMessage({ threadId: t!.id, authorId: 'a', text: `m${i + j}` })));
  }
  return t!.id;
}

describe('a walk with after: next_cursor visits every message once, in order, while 4 writers append', () => {
  it.each(['asc', 'desc'])('threads, order %s', async (order) => {
    const id = await thread(`walk-${order}`, 120);
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      let n = 0;
      while (writing) await s.svc.threads.createMessage({ threadId: id, authorId: `w${w}`, text: `w${w}-${n++}` });
    });
    const seen: number[] = [];
    let after = '';
    let pages = 0;
    for (;;) {
      const r = await s.svc.threads.listMessages({ threadId: id, limit: '7', order, after });
      seen.push(...r.messages.map((m) => Number(m.seq)));
      pages++;
      if (r.nextCursor === '') {
        expect(r.hasMore).toBe(false);
        break;
      }
      after = r.nextCursor;
      if (order === 'asc' && pages > 40) writing = false; // an asc walk follows the writers: let it end
    }
    writing = false;
    await Promise.all(writers);
    // No repeat, and strictly in the chosen order.
    expect(new Set(seen).size).toBe(seen.length);
    for (let i = 1; i < seen.length; i++) expect(order === 'asc' ? seen[i] > seen[i - 1] : seen[i] < seen[i - 1]).toBe(true);
    // Every message that existed before the walk (seq 1..120) is there.
    for (let q = 1; q <= 120; q++) expect(seen).toContain(q);
  });

  it('chats and streams walk the same way (desc, then asc)', async () => {
    const { chat } = await s.svc.chats.createChat({ userIds: ['walk-a', 'walk-b'] });
    const { conversation } = await s.svc.streams.createConversation({ groupId: 'g', topic: 'walk' });
    for (let i = 0; i < 30; i++) {
      await s.svc.chats.sendMessage({ chatId: chat!.id, authorId: 'walk-a', text: `c${i}` });
      await s.svc.streams.createMessage({ conversationId: conversation!.id, authorId: 'a', text: `s${i}` });
    }
    for (const order of ['desc', 'asc']) {
      const chatSeqs: number[] = [];
      const convSeqs: number[] = [];
      let a = '';
      let b = '';
      do {
        const r = await s.svc.chats.listMessages({ chatId: chat!.id, limit: '4', order, after: a });
        chatSeqs.push(...r.messages.map((m) => Number(m.seq)));
        a = r.nextCursor;
      } while (a);
      do {
        const r = await s.svc.streams.listMessages({ conversationId: conversation!.id, limit: 4, order, after: b });
        convSeqs.push(...r.messages.map((m) => Number(m.seq)));
        b = r.nextCursor;
      } while (b);
      const want = Array.from({ length: 30 }, (_, i) => i + 1);
      if (order === 'desc') want.reverse();
      expect(chatSeqs).toEqual(want);
      expect(convSeqs).toEqual(want);
    }
  });
});

it('newest first, before: prev_cursor fetches what arrived since, newest first, nearest the cursor', async () => {
  const id = await thread('catch-up', 10);
  const first = await s.svc.threads.listMessages({ threadId: id, limit: '5' });
  expect(first.messages.map((m) => m.seq)).toEqual(['10', '9', '8', '7', '6']);
  expect(first.hasMore).toBe(true);
  for (let i = 0; i < 8; i++) await s.svc.threads.createMessage({ threadId: id, authorId: 'a', text: `new${i}` });
  const since = await s.svc.threads.listMessages({ threadId: id, limit: '5', before: first.prevCursor });
  // The 5 nearest the cursor, still newest first; 3 more lie beyond them.
  expect(since.messages.map((m) => m.seq)).toEqual(['15', '14', '13', '12', '11']);
  expect(since.hasMore).toBe(true);
  const rest = await s.svc.threads.listMessages({ threadId: id, limit: '5', before: since.prevCursor });
  expect(rest.messages.map((m) => m.seq)).toEqual(['18', '17', '16']);
  expect(rest.hasMore).toBe(false);
  // prev_cursor of a page is its first item's; next_cursor its last's, while something follows.
  expect(rest.nextCursor).not.toBe('');
  const nothing = await s.svc.threads.listMessages({ threadId: id, limit: '5', before: rest.prevCursor });
  expect(nothing).toMatchObject({ messages: [], nextCursor: '', prevCursor: '', hasMore: false });
});

it('empty pages: an empty container has no cursors but a feed_cursor; after the last item is an empty page', async () => {
  const id = await thread('empty', 0);
  const r = await s.svc.threads.listMessages({ threadId: id });
  expect(r).toMatchObject({ messages: [], nextCursor: '', prevCursor: '', hasMore: false });
  expect(r.feedCursor).not.toBe('');
  await s.svc.threads.createMessage({ threadId: id, authorId: 'a', text: 'only' });
  const one = await s.svc.threads.listMessages({ threadId: id });
  expect(one.nextCursor).toBe('');
  expect(one.prevCursor).not.toBe('');
  expect(one.feedCursor).not.toBe(r.feedCursor);
  const past = await s.svc.threads.listMessages({ threadId: id, after: one.prevCursor });
  expect(past).toMatchObject({ messages: [], nextCursor: '', prevCursor: '', hasMore: false });
});

it('ListThreads and ListConversations page by cursor in both orders; a cursor outlives its thread', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 9; i++) ids.push((await s.svc.threads.createThread({ groupId: 'cur-group', topic: `t${i}` })).thread!.id);
  const convs: string[] = [];
  for (let i = 0; i < 9; i++) convs.push((await s.svc.streams.createConversation({ groupId: 'cur-group', topic: `c${i}` })).conversation!.id);
  for (const order of ['asc', 'desc']) {
    const got: string[] = [];
    const gotConv: string[] = [];
    let after = '';
    do {
      const r = await s.svc.threads.listThreads({ groupId: 'cur-group', limit: '4', order, after });
      got.push(...r.threads.map((t) => t.id));
      after = r.nextCursor;
    } while (after);
    do {
      const r = await s.svc.streams.listConversations({ groupId: 'cur-group', limit: 4, order, after });
      gotConv.push(...r.conversations.map((c) => c.id));
      after = r.nextCursor;
    } while (after);
    expect(got).toEqual(order === 'asc' ? ids : [...ids].reverse());
    expect(gotConv).toEqual(order === 'asc' ? convs : [...convs].reverse());
  }
  // The cursor names a position: its thread deleted, it still pages from there.
  const page = await s.svc.threads.listThreads({ groupId: 'cur-group', limit: '3', order: 'asc' });
  await s.svc.threads.deleteThread({ id: ids[2] });
  const next = await s.svc.threads.listThreads({ groupId: 'cur-group', limit: '3', order: 'asc', after: page.nextCursor });
  expect(next.threads.map((t) => t.id)).toEqual(ids.slice(3, 6));
});

describe('cursors are bound to their list and namespace', () => {
  it('a cursor of another thread, another kind of list, a feed cursor, or a changed one is INVALID_CURSOR naming the field', async () => {
    const a = await thread('bind-a', 3);
    const b = await thread('bind-b', 3);
    const pa = await s.svc.threads.listMessages({ threadId: a, limit: '1' });
    const lt = await s.svc.threads.listThreads({ groupId: 'g-bind-a', limit: '1' });
    const tampered = pa.nextCursor.slice(0, -2) + (pa.nextCursor.endsWith('AA') ? 'AB' : 'AA');
    const cases: [Promise<unknown>, string][] = [
      [s.svc.threads.listMessages({ threadId: b, after: pa.nextCursor }), 'after'],
      [s.svc.threads.listMessages({ threadId: b, before: pa.nextCursor }), 'before'],
      [s.svc.threads.listMessages({ threadId: a, after: lt.prevCursor }), 'after'],
      [s.svc.threads.listThreads({ groupId: 'g-bind-a', after: pa.nextCursor }), 'after'],
      [s.svc.threads.listMessages({ threadId: a, after: pa.feedCursor }), 'after'],
      [s.svc.threads.listMessages({ threadId: a, after: tampered }), 'after'],
      [s.svc.threads.listMessages({ threadId: a, after: pa.nextCursor.slice(0, 10) }), 'after'],
      [s.svc.threads.listMessages({ threadId: a, after: 'not a cursor!' }), 'after'],
      [s.svc.threads.listThreads({ groupId: 'g-bind-b', after: lt.nextCursor || lt.prevCursor }), 'after'],
    ];
    for (const [call, field] of cases) {
      const f = await failure(call);
      expect(f).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_CURSOR' });
      expect(f.details).toContain(field);
    }
  });

  it('two namespaces each holding a chat with the same client-chosen id: one’s cursor is refused by the other', async () => {
    const other = clients(s.svc.address, OTHER_TOKEN);
    const mine = clients(s.svc.address, TEST_TOKEN);
    try {
      await mine.chats.createChat({ userIds: ['x1', 'x2'], id: 'same-chat-id' });
      await other.chats.createChat({ userIds: ['x1', 'x2'], id: 'same-chat-id' });
      for (const c of [mine, other]) for (let i = 0; i < 3; i++) await c.chats.sendMessage({ chatId: 'same-chat-id', authorId: 'x1', text: 'hi' });
      const page = await mine.chats.listMessages({ chatId: 'same-chat-id', limit: '1' });
      expect(await failure(other.chats.listMessages({ chatId: 'same-chat-id', after: page.nextCursor }))).toMatchObject({ reason: 'INVALID_CURSOR' });
      expect((await mine.chats.listMessages({ chatId: 'same-chat-id', limit: '1', after: page.nextCursor })).messages).toHaveLength(1);
    } finally {
      other.close();
      mine.close();
    }
  });

  it('both cursors, a cursor with a non-zero offset, a cursor with sent_before: INVALID_ARGUMENT naming the field; offset 0 is allowed', async () => {
    const id = await thread('rules', 3);
    const p = await s.svc.threads.listMessages({ threadId: id, limit: '1' });
    expect(await failure(s.svc.threads.listMessages({ threadId: id, after: p.nextCursor, before: p.prevCursor }))).toMatchObject({ reason: 'INVALID_ARGUMENT', details: expect.stringContaining('before') });
    expect(await failure(s.svc.threads.listMessages({ threadId: id, after: p.nextCursor, offset: '1' }))).toMatchObject({ reason: 'INVALID_ARGUMENT', details: expect.stringContaining('offset') });
    expect((await s.svc.threads.listMessages({ threadId: id, after: p.nextCursor, offset: '0' })).messages).toHaveLength(2);
    const { conversation } = await s.svc.streams.createConversation({ groupId: 'g', topic: 'rules' });
    await s.svc.streams.createMessage({ conversationId: conversation!.id, authorId: 'a', text: 'x' });
    await s.svc.streams.createMessage({ conversationId: conversation!.id, authorId: 'a', text: 'y' });
    const sp = await s.svc.streams.listMessages({ conversationId: conversation!.id, limit: 1 });
    const f = await failure(s.svc.streams.listMessages({ conversationId: conversation!.id, after: sp.nextCursor, sentBefore: { seconds: '4000000000', nanos: 0 } }));
    expect(f).toMatchObject({ reason: 'INVALID_ARGUMENT', details: expect.stringContaining('sent_before') });
  });
});

it('property: generated interleavings of appends and page requests match a model', async () => {
  type Step = { kind: 'append'; n: number } | { kind: 'page'; order: 'asc' | 'desc'; dir: 'none' | 'after' | 'before'; limit: number; pick: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 4 }) }),
    fc.record({
      kind: fc.constant('page' as const),
      order: fc.constantFrom('asc' as const, 'desc' as const),
      dir: fc.constantFrom('none' as const, 'after' as const, 'before' as const),
      limit: fc.integer({ min: 1, max: 6 }),
      pick: fc.nat(),
    }),
  );
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
      const { thread: t } = await s.svc.threads.createThread({ groupId: 'model', topic: `run${run++}` });
      let count = 0;
      // Cursors seen so far, with the seq each names.
      const known: { cursor: string; seq: number }[] = [];
      for (const st of steps) {
        if (st.kind === 'append') {
          for (let i = 0; i < st.n; i++) await s.svc.threads.createMessage({ threadId: t!.id, authorId: 'a', text: `x${count + i}` });
          count += st.n;
          continue;
        }
        const anchor = st.dir !== 'none' && known.length ? known[st.pick % known.length] : undefined;
        const dir = anchor ? st.dir : 'none';
        const r = await s.svc.threads.listMessages({
          threadId: t!.id,
          limit: String(st.limit),
          order: st.order,
          after: dir === 'after' ? anchor!.cursor : '',
          before: dir === 'before' ? anchor!.cursor : '',
        });
        // The model: seqs 1..count in the chosen order; the window after/before the anchor.
        const all = Array.from({ length: count }, (_, i) => i + 1);
        if (st.order === 'desc') all.reverse();
        const at = anchor?.seq;
        const follows = (q: number) => (st.order === 'asc' ? q > at! : q < at!);
        let want: number[];
        let more: boolean;
        if (dir === 'none') {
          want = all.slice(0, st.limit);
          more = all.length > st.limit;
        } else if (dir === 'after') {
          const rest = all.filter(follows);
          want = rest.slice(0, st.limit);
          more = rest.length > st.limit;
        } else {
          const rest = all.filter((q) => q !== at && !follows(q));
          want = rest.slice(-st.limit);
          more = rest.length > st.limit;
        }
        expect(r.messages.map((m) => Number(m.seq))).toEqual(want);
        expect(r.hasMore).toBe(more);
        if (want.length) {
          known.push({ cursor: r.prevCursor, seq: want[0] });
          if (r.nextCursor) known.push({ cursor: r.nextCursor, seq: want[want.length - 1] });
          const lastFollowed = all.indexOf(want[want.length - 1]) < all.length - 1;
          expect(r.nextCursor !== '').toBe(lastFollowed);
        } else {
          expect(r).toMatchObject({ nextCursor: '', prevCursor: '' });
        }
      }
    }),
    { numRuns: 60 },
  );
});

it('property: whatever bytes a cursor holds, it pages its own list or is INVALID_CURSOR; it never reaches another namespace', async () => {
  const other = clients(s.svc.address, OTHER_TOKEN);
  try {
    // The same client-chosen chat id in both namespaces, with different messages.
    await s.svc.chats.createChat({ userIds: ['pc1', 'pc2'], id: 'prop-chat' });
    await other.chats.createChat({ userIds: ['pc1', 'pc2'], id: 'prop-chat' });
    for (let i = 0; i < 5; i++) {
      await s.svc.chats.sendMessage({ chatId: 'prop-chat', authorId: 'pc1', text: `mine${i}` });
      await other.chats.sendMessage({ chatId: 'prop-chat', authorId: 'pc1', text: `theirs${i}` });
    }
    const mine = await s.svc.chats.listMessages({ chatId: 'prop-chat', limit: '2' });
    const genuine = [mine.nextCursor, mine.prevCursor, mine.feedCursor];
    const flip = (c: string, i: number, bit: number) => {
      const b = Buffer.from(c, 'base64url');
      b[i % b.length] ^= 1 << bit % 8;
      return b.toString('base64url');
    };
    const cursor = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.tuple(fc.constantFrom(...genuine), fc.nat(), fc.nat({ max: 7 })).map(([c, i, bit]) => flip(c, i, bit)),
    );
    await fc.assert(
      fc.asyncProperty(cursor, fc.constantFrom('after', 'before'), async (c, dir) => {
        fc.pre(c !== '' && !genuine.includes(c));
        // Asked in the other namespace: never its messages, never a success with a forged position.
        const f = await failure(other.chats.listMessages({ chatId: 'prop-chat', [dir]: c }));
        expect(f).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'INVALID_CURSOR' });
      }),
      { numRuns: 200 },
    );
  } finally {
    other.close();
  }
});

it('a container cursor keeps its position after deletes: later containers come after it, also once the group was emptied', async () => {
  const mk = async (topic: string) => (await s.svc.threads.createThread({ groupId: 'pos-group', topic })).thread!.id;
  const t = [await mk('t0'), await mk('t1'), await mk('t2')];
  const first = await s.svc.threads.listThreads({ groupId: 'pos-group', limit: '3' });
  expect(first.threads.map((x) => x.id)).toEqual([t[2], t[1], t[0]]);
  await s.svc.threads.deleteThread({ id: t[2] });
  const fresh = await mk('new');
  // Newest first, before the first page's first item: what was created since.
  expect((await s.svc.threads.listThreads({ groupId: 'pos-group', before: first.prevCursor })).threads.map((x) => x.id)).toEqual([fresh]);
  for (const id of [t[0], t[1], fresh]) await s.svc.threads.deleteThread({ id });
  const later = await mk('later');
  expect((await s.svc.threads.listThreads({ groupId: 'pos-group', after: first.prevCursor })).threads).toEqual([]);
  expect((await s.svc.threads.listThreads({ groupId: 'pos-group', before: first.prevCursor })).threads.map((x) => x.id)).toEqual([later]);
});

it('a walk over a group with stale index entries (an interrupted delete) still visits every container and ends cleanly', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await s.svc.threads.createThread({ groupId: 'stale-group', topic: `s${i}` })).thread!.id);
  const raw = s.redis.client();
  const idx = (await raw.keys('*tg:stale-group}:idx'))[0];
  const top = Number((await raw.zrange(idx, -1, -1, 'WITHSCORES'))[1]);
  await raw.zadd(idx, top + 1, 'ghost-a', top + 2, 'ghost-b');
  const seen: string[] = [];
  let after = '';
  for (let pages = 0; pages < 20; pages++) {
    const r = await s.svc.threads.listThreads({ groupId: 'stale-group', limit: '1', order: 'asc', after });
    seen.push(...r.threads.map((x) => x.id));
    if (r.nextCursor === '') {
      expect(r.hasMore).toBe(false);
      break;
    }
    after = r.nextCursor;
  }
  expect(seen).toEqual(ids);
  expect(await raw.zscore(idx, 'ghost-a')).toBeNull();
});
