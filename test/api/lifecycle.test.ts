/**
 * Edit, delete, restore, purge and read messages, and metadata, over gRPC on
 * the three services: tombstones, include_deleted, counts and cursors that
 * stay exact, purge erasing the text from Redis, one feed event per change,
 * and the errors of bad input (nothing written).
 */
import { status } from '@grpc/grpc-js';
import { defaultLimits } from '../../src/core/limits';
import { containerKeys } from '../../src/store/keys';
import { subscribe } from '../helpers/feed';
import { failure } from '../helpers/grpc';
import { OTHER_TOKEN, TEST_TOKEN } from '../helpers/service';
import { clients } from '../helpers/grpc';
import { useStack } from '../helpers/stack';

const s = useStack();

async function threadWith(n: number): Promise<{ threadId: string; ids: string[] }> {
  const threadId = (await s.svc.threads.createThread({ groupId: 'life', topic: 't' })).thread!.id;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await s.svc.threads.createMessage({ threadId, authorId: 'ann', text: `m${i}` })).message!.id);
  return { threadId, ids };
}

describe('threads', () => {
  it('UpdateMessage replaces the text, merges metadata and sets edited_at; seq and sent_at never change', async () => {
    const { threadId } = await threadWith(0);
    const created = (await s.svc.threads.createMessage({ threadId, authorId: 'ann', text: 'draft', metadata: { lang: 'en', tag: 'x' } })).message!;
    expect(created.metadata).toEqual({ lang: 'en', tag: 'x' });
    expect(created.editedAt).toBe('');
    const edited = (await s.svc.threads.updateMessage({ threadId, id: created.id, text: 'final', metadata: { tag: '', mood: 'ok' } })).message!;
    expect(edited).toMatchObject({ id: created.id, text: 'final', seq: created.seq, sentAt: created.sentAt, metadata: { lang: 'en', mood: 'ok' } });
    expect(edited.editedAt > created.sentAt).toBe(true);
    // Metadata alone is an edit too; the text stays.
    const again = (await s.svc.threads.updateMessage({ threadId, id: created.id, metadata: { lang: 'fr' } })).message!;
    expect(again).toMatchObject({ text: 'final', metadata: { lang: 'fr', mood: 'ok' } });
    expect((await s.svc.threads.readMessage({ threadId, id: created.id })).message).toEqual(again);
  });

  it('DeleteMessage leaves a tombstone out of the default lists; include_deleted shows it in place or alone; RestoreMessage brings it back whole', async () => {
    const { threadId, ids } = await threadWith(5);
    await s.svc.threads.updateMessage({ threadId, id: ids[2], metadata: { k: 'v' } });
    const tomb = (await s.svc.threads.deleteMessage({ threadId, id: ids[2] })).message!;
    expect(tomb).toMatchObject({ id: ids[2], authorId: 'ann', seq: '3', text: '', metadata: {}, editedAt: '' });
    expect(tomb.deletedAt).not.toBe('');

    const texts = async (includeDeleted: string, extra: object = {}) =>
      (await s.svc.threads.listMessages({ threadId, order: 'asc', includeDeleted, ...extra })).messages.map((m) => (m.deletedAt ? `(${m.seq})` : m.text));
    expect(await texts('')).toEqual(['m0', 'm1', 'm3', 'm4']);
    expect(await texts('false')).toEqual(['m0', 'm1', 'm3', 'm4']);
    expect(await texts('true')).toEqual(['m0', 'm1', '(3)', 'm3', 'm4']);
    expect(await texts('only')).toEqual(['(3)']);
    // Offsets count what the list shows.
    expect(await texts('', { offset: '2', limit: '1' })).toEqual(['m3']);
    expect(await texts('true', { offset: '2', limit: '1' })).toEqual(['(3)']);
    expect((await s.svc.threads.recentMessages({ threadIds: [threadId], limitPerThread: '2' })).messages.map((m) => m.text)).toEqual(['m4', 'm3']);
    expect((await s.svc.threads.readMessage({ threadId, id: ids[2] })).message).toEqual(tomb);

    const back = (await s.svc.threads.restoreMessage({ threadId, id: ids[2] })).message!;
    expect(back).toMatchObject({ text: 'm2', metadata: { k: 'v' }, deletedAt: '', seq: '3' });
    expect(back.editedAt).not.toBe('');
    expect(await texts('')).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('a cursor keeps working across deletes, and a walk by cursor with include_deleted visits every seq once', async () => {
    const { threadId, ids } = await threadWith(9);
    const first = await s.svc.threads.listMessages({ threadId, order: 'asc', limit: '3' });
    for (const i of [3, 4, 7]) await s.svc.threads.deleteMessage({ threadId, id: ids[i] });
    const next = await s.svc.threads.listMessages({ threadId, order: 'asc', limit: '3', after: first.nextCursor });
    expect(next.messages.map((m) => m.text)).toEqual(['m5', 'm6', 'm8']);
    expect(next.hasMore).toBe(false);
    // Deleting the cursor's own message does not break it.
    await s.svc.threads.deleteMessage({ threadId, id: ids[2] });
    expect((await s.svc.threads.listMessages({ threadId, order: 'asc', limit: '2', after: first.nextCursor })).messages.map((m) => m.text)).toEqual(['m5', 'm6']);
    for (const order of ['asc', 'desc']) {
      const seen: string[] = [];
      let after = '';
      for (;;) {
        const page = await s.svc.threads.listMessages({ threadId, order, limit: '2', includeDeleted: 'true', after });
        seen.push(...page.messages.map((m) => m.seq));
        if (page.nextCursor === '') break;
        after = page.nextCursor;
      }
      const all = Array.from({ length: 9 }, (_, i) => String(i + 1));
      expect(seen).toEqual(order === 'asc' ? all : all.reverse());
    }
  });

  it('PurgeMessage erases the text and metadata from Redis for good; the tombstone and its seq stay; a restore is MESSAGE_PURGED', async () => {
    const { threadId, ids } = await threadWith(3);
    const secret = 'the-secret-text-0123456789';
    const m = (await s.svc.threads.createMessage({ threadId, authorId: 'ann', text: secret, metadata: { secretkey: 'secretvalue' } })).message!;
    await s.svc.threads.deleteMessage({ threadId, id: m.id });
    const purged = (await s.svc.threads.purgeMessage({ threadId, id: m.id })).message!;
    expect(purged).toMatchObject({ id: m.id, seq: '4', text: '', metadata: {} });
    // Nothing of the text or metadata is left in any of the thread's keys.
    const redis = s.redis.client();
    const k = containerKeys('default', 'thread', threadId);
    const stored = JSON.stringify([
      await redis.hgetall(k.bodies),
      await redis.hgetall(k.meta),
      await redis.xrange(k.feed, '-', '+'),
      await redis.zrange(k.order, 0, -1),
      await redis.zrange(k.deleted, 0, -1),
    ]);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain('secretvalue');
    expect(stored).not.toContain('secretkey');
    const err = await failure(s.svc.threads.restoreMessage({ threadId, id: m.id }));
    expect(err).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'MESSAGE_PURGED' });
    expect((await s.svc.threads.listMessages({ threadId, includeDeleted: 'only' })).messages.map((x) => x.seq)).toEqual(['4']);
    // Its seq is never reused.
    const next = (await s.svc.threads.createMessage({ threadId, authorId: 'ann', text: 'after' })).message!;
    expect(next.seq).toBe('5');
    // Purging a live message works too; purging again changes nothing.
    const live = (await s.svc.threads.purgeMessage({ threadId, id: ids[0] })).message!;
    expect(live.deletedAt).not.toBe('');
    expect((await s.svc.threads.purgeMessage({ threadId, id: ids[0] })).message).toEqual(live);
  });

  it('each change is one feed event; repeats (delete of a deleted message, restore of a live one) change nothing and add none', async () => {
    const { threadId, ids } = await threadWith(1);
    const { feedCursor } = await s.svc.threads.listMessages({ threadId });
    await s.svc.threads.updateMessage({ threadId, id: ids[0], text: 'edited' });
    await s.svc.threads.deleteMessage({ threadId, id: ids[0] });
    await s.svc.threads.deleteMessage({ threadId, id: ids[0] });
    await s.svc.threads.restoreMessage({ threadId, id: ids[0] });
    await s.svc.threads.restoreMessage({ threadId, id: ids[0] });
    await s.svc.threads.purgeMessage({ threadId, id: ids[0] });
    await s.svc.threads.purgeMessage({ threadId, id: ids[0] });
    const f = subscribe(s.svc.address, 'threads', { threadIds: [threadId], after: [feedCursor] }, TEST_TOKEN);
    try {
      await f.live();
      expect(f.events.map((e) => e.type)).toEqual(['updated', 'deleted', 'restored', 'purged', 'live']);
    } finally {
      f.cancel();
    }
  });

  it('bad input: NOT_FOUND, MESSAGE_DELETED, MISSING_* in order, metadata over a limit names metadata and writes nothing', async () => {
    const { threadId, ids } = await threadWith(2);
    expect(await failure(s.svc.threads.updateMessage({ threadId, id: 'nope', text: 'x' }))).toMatchObject({ code: status.NOT_FOUND });
    expect(await failure(s.svc.threads.deleteMessage({ threadId: 'no-thread', id: ids[0] }))).toMatchObject({ code: status.NOT_FOUND });
    expect(await failure(s.svc.threads.readMessage({ threadId, id: '' }))).toMatchObject({ reason: 'MISSING_ID' });
    expect(await failure(s.svc.threads.readMessage({ threadId: '', id: '' }))).toMatchObject({ reason: 'MISSING_THREAD_ID' });
    expect(await failure(s.svc.threads.updateMessage({ threadId, id: ids[0] }))).toMatchObject({ reason: 'MISSING_TEXT' });
    await s.svc.threads.deleteMessage({ threadId, id: ids[0] });
    expect(await failure(s.svc.threads.updateMessage({ threadId, id: ids[0], text: 'x' }))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'MESSAGE_DELETED' });
    // Metadata limits: as given, and as it would be after the merge.
    const L = defaultLimits;
    const tooMany = Object.fromEntries(Array.from({ length: L.MAX_METADATA_KEYS + 1 }, (_, i) => [`k${i}`, 'v']));
    for (const metadata of [tooMany, { ['k'.repeat(L.MAX_METADATA_KEY_BYTES + 1)]: 'v' }, { big: 'x'.repeat(L.MAX_METADATA_BYTES) }, { '': 'v' }]) {
      const err = await failure(s.svc.threads.updateMessage({ threadId, id: ids[1], metadata }));
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
      expect(err.details).toMatch(/metadata/);
    }
    const half = Object.fromEntries(Array.from({ length: L.MAX_METADATA_KEYS / 2 + 1 }, (_, i) => [`a${i}`, 'v']));
    const otherHalf = Object.fromEntries(Array.from({ length: L.MAX_METADATA_KEYS / 2 + 1 }, (_, i) => [`b${i}`, 'v']));
    await s.svc.threads.updateMessage({ threadId, id: ids[1], metadata: half });
    const merged = await failure(s.svc.threads.updateMessage({ threadId, id: ids[1], text: 'changed?', metadata: otherHalf }));
    expect(merged.details).toMatch(/metadata/);
    expect((await s.svc.threads.readMessage({ threadId, id: ids[1] })).message).toMatchObject({ text: 'm1', metadata: half });
    // Another namespace's ids: NOT_FOUND and nothing changed.
    const other = clients(s.svc.address, OTHER_TOKEN);
    try {
      expect(await failure(other.threads.deleteMessage({ threadId, id: ids[1] }))).toMatchObject({ code: status.NOT_FOUND });
      expect((await s.svc.threads.readMessage({ threadId, id: ids[1] })).message!.deletedAt).toBe('');
    } finally {
      other.close();
    }
  });

  it('metadata on threads: set at create, merged by UpdateThread (which takes metadata without a topic)', async () => {
    const t = (await s.svc.threads.createThread({ groupId: 'md', topic: 'x', metadata: { a: '1', b: '2' } })).thread!;
    expect(t.metadata).toEqual({ a: '1', b: '2' });
    const u = (await s.svc.threads.updateThread({ id: t.id, metadata: { b: '', c: '3' } })).thread!;
    expect(u).toMatchObject({ topic: 'x', metadata: { a: '1', c: '3' } });
    expect(await failure(s.svc.threads.updateThread({ id: t.id }))).toMatchObject({ reason: 'MISSING_TOPIC' });
    expect((await s.svc.threads.readThread({ id: t.id })).thread!.metadata).toEqual({ a: '1', c: '3' });
  });
});

describe('chats and streams', () => {
  it('chats: metadata at CreateChat, the lifecycle with int64 times', async () => {
    const chat = (await s.svc.chats.createChat({ userIds: ['l1', 'l2'], metadata: { kind: 'dm' } })).chat!;
    expect(chat.metadata).toEqual({ kind: 'dm' });
    const m = (await s.svc.chats.sendMessage({ chatId: chat.id, authorId: 'l1', text: 'hi', metadata: { x: 'y' } })).message!;
    expect(m.editedAt).toBe('0');
    const e = (await s.svc.chats.updateMessage({ chatId: chat.id, id: m.id, text: 'hello' })).message!;
    expect(BigInt(e.editedAt)).toBeGreaterThan(BigInt(m.sentAt));
    const d = (await s.svc.chats.deleteMessage({ chatId: chat.id, id: m.id })).message!;
    expect(BigInt(d.deletedAt)).toBeGreaterThan(0n);
    expect((await s.svc.chats.listMessages({ chatId: chat.id })).messages).toEqual([]);
    expect((await s.svc.chats.listMessages({ chatId: chat.id, includeDeleted: 'true' })).messages.map((x) => x.id)).toEqual([m.id]);
    expect((await s.svc.chats.restoreMessage({ chatId: chat.id, id: m.id })).message).toMatchObject({ text: 'hello', metadata: { x: 'y' }, deletedAt: '0' });
  });

  it('streams: Timestamp times, UpdateConversation with metadata only, include_deleted on RecentMessages', async () => {
    const c = (await s.svc.streams.createConversation({ groupId: 'g', topic: 't', metadata: { a: 'b' } })).conversation!;
    expect((await s.svc.streams.updateConversation({ id: c.id, metadata: { a: 'c' } })).conversation).toMatchObject({ topic: 't', metadata: { a: 'c' } });
    const m = (await s.svc.streams.createMessage({ conversationId: c.id, authorId: 'u', text: 'one' })).message!;
    expect(m.editedAt).toBeUndefined();
    const d = (await s.svc.streams.deleteMessage({ conversationId: c.id, id: m.id })).message!;
    expect(d.deletedAt).toBeDefined();
    expect((await s.svc.streams.recentMessages({ conversationIds: [c.id] })).messages).toEqual([]);
    expect((await s.svc.streams.recentMessages({ conversationIds: [c.id], includeDeleted: 'only' })).messages.map((x) => x.id)).toEqual([m.id]);
    expect(await failure(s.svc.streams.listMessages({ conversationId: c.id, includeDeleted: 'maybe' }))).toMatchObject({ code: status.INVALID_ARGUMENT });
  });
});
