import { status } from '@grpc/grpc-js';
import { useStack } from '../helpers/stack';
import { failure, stable } from '../helpers/grpc';

const s = useStack();

const RFC3339_NANOS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

describe('CreateThread / ReadThread / UpdateThread', () => {
  it('creates a thread with an id and an RFC 3339 created_at, and reads it back', async () => {
    const { thread } = await s.svc.threads.createThread({ groupId: 'g1', topic: 'hello' });
    expect(thread).toMatchObject({ groupId: 'g1', topic: 'hello' });
    expect(thread!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(thread!.createdAt).toMatch(RFC3339_NANOS);
    const read = await s.svc.threads.readThread({ id: thread!.id });
    expect(stable(read.thread)).toEqual(stable(thread));
    expect(stable((await s.svc.threads.readThread({ id: thread!.id, groupId: 'g1' })).thread)).toEqual(stable(thread));
  });

  it('ReadThread with another group_id is NOT_FOUND, as is an absent id', async () => {
    const { thread } = await s.svc.threads.createThread({ groupId: 'g2', topic: 't' });
    expect(await failure(s.svc.threads.readThread({ id: thread!.id, groupId: 'other' }))).toMatchObject({
      code: status.NOT_FOUND,
      reason: 'NOT_FOUND',
    });
    expect(await failure(s.svc.threads.readThread({ id: 'absent' }))).toMatchObject({ code: status.NOT_FOUND, reason: 'NOT_FOUND' });
  });

  it('UpdateThread changes the topic only and returns the thread', async () => {
    const { thread } = await s.svc.threads.createThread({ groupId: 'g3', topic: 'before' });
    const { thread: updated } = await s.svc.threads.updateThread({ id: thread!.id, topic: 'after' });
    expect(stable(updated)).toEqual(stable({ ...thread!, topic: 'after' }));
    expect((await s.svc.threads.readThread({ id: thread!.id })).thread!.topic).toBe('after');
    expect(await failure(s.svc.threads.updateThread({ id: 'absent', topic: 'x' }))).toMatchObject({ reason: 'NOT_FOUND' });
  });

  it.each([
    ['createThread', { topic: 't' }, 'MISSING_GROUP_ID'],
    ['createThread', { groupId: 'g' }, 'MISSING_TOPIC'],
    ['createThread', {}, 'MISSING_GROUP_ID'],
    ['readThread', {}, 'MISSING_ID'],
    ['updateThread', { topic: 't' }, 'MISSING_ID'],
    ['updateThread', { id: 'x' }, 'MISSING_TOPIC'],
    ['deleteThread', {}, 'MISSING_ID'],
    ['listThreads', {}, 'MISSING_GROUP_ID'],
    ['createMessage', { threadId: 't', text: 'x' }, 'MISSING_AUTHOR_ID'],
    ['createMessage', { authorId: 'a', text: 'x' }, 'MISSING_THREAD_ID'],
    ['createMessage', { authorId: 'a', threadId: 't' }, 'MISSING_TEXT'],
    ['listMessages', {}, 'MISSING_THREAD_ID'],
    ['recentMessages', {}, 'MISSING_THREAD_IDS'],
  ] as const)('%s %j is INVALID_ARGUMENT %s', async (method, req, reason) => {
    const call = (s.svc.threads as unknown as Record<string, (r: object) => Promise<unknown>>)[method](req);
    expect(await failure(call)).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
  });
});

describe('limits', () => {
  it.each([
    ['topic over 1024 bytes', 'createThread', { groupId: 'g', topic: 'x'.repeat(1025) }, 'FIELD_TOO_LONG', 'topic'],
    ['group_id over 256 bytes', 'createThread', { groupId: 'g'.repeat(257), topic: 't' }, 'FIELD_TOO_LONG', 'group_id'],
    ['text over 16 KiB (in UTF-8 bytes)', 'createMessage', { authorId: 'a', threadId: 't', text: 'é'.repeat(8193) }, 'FIELD_TOO_LONG', 'text'],
    ['message id over 256 bytes', 'createMessage', { authorId: 'a', threadId: 't', text: 'x', id: 'i'.repeat(257) }, 'FIELD_TOO_LONG', 'id'],
    ['limit over 1000', 'listMessages', { threadId: 't', limit: '1001' }, 'INVALID_ARGUMENT', 'limit'],
    ['negative limit', 'listMessages', { threadId: 't', limit: '-1' }, 'INVALID_ARGUMENT', 'limit'],
    ['offset over 100000', 'listMessages', { threadId: 't', offset: '100001' }, 'INVALID_ARGUMENT', 'offset'],
    ['unknown order', 'listMessages', { threadId: 't', order: 'sideways' }, 'INVALID_ARGUMENT', 'order'],
    ['huge int64 limit', 'listThreads', { groupId: 'g', limit: '99999999999999999' }, 'INVALID_ARGUMENT', 'limit'],
    ['101 thread ids', 'recentMessages', { threadIds: Array.from({ length: 101 }, (_, i) => `t${i}`) }, 'TOO_MANY_IDS', 'thread_ids'],
    ['limit_per_thread over 100', 'recentMessages', { threadIds: ['t'], limitPerThread: '101' }, 'INVALID_ARGUMENT', 'limit_per_thread'],
  ] as const)('%s: %s is %s naming the field', async (_label, method, req, reason, field) => {
    const call = (s.svc.threads as unknown as Record<string, (r: object) => Promise<unknown>>)[method](req);
    const f = await failure(call);
    expect(f).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
    expect(f.details).toContain(field);
  });

  it('checks required fields before anything else', async () => {
    // text is missing and id is over its limit: the missing field wins.
    const f = await failure(s.svc.threads.createMessage({ authorId: 'a', threadId: 't', id: 'i'.repeat(300) }));
    expect(f.reason).toBe('MISSING_TEXT');
  });
});

describe('messages', () => {
  it('CreateMessage on an absent thread is NOT_FOUND and stores nothing', async () => {
    expect(await failure(s.svc.threads.createMessage({ threadId: 'nope', authorId: 'a', text: 'x' }))).toMatchObject({
      code: status.NOT_FOUND,
      reason: 'NOT_FOUND',
    });
    expect(await failure(s.svc.threads.listMessages({ threadId: 'nope' }))).toMatchObject({ reason: 'NOT_FOUND' });
  });

  it('lists newest first by default, 25 a page, with offset and order asc', async () => {
    const { thread } = await s.svc.threads.createThread({ groupId: 'gm', topic: 't' });
    const sent = [];
    for (let i = 0; i < 30; i++) {
      sent.push((await s.svc.threads.createMessage({ threadId: thread!.id, authorId: `u${i % 3}`, text: `m${i}` })).message!);
    }
    expect(sent.map((m) => m.seq)).toEqual(sent.map((_, i) => String(i + 1)));
    const byDefault = (await s.svc.threads.listMessages({ threadId: thread!.id })).messages;
    expect(byDefault.map((m) => m.text)).toEqual(sent.slice(5).reverse().map((m) => m.text));
    expect(byDefault[0]).toEqual(sent[29]);
    const asc = (await s.svc.threads.listMessages({ threadId: thread!.id, order: 'asc', limit: '10', offset: '5' })).messages;
    expect(asc.map((m) => m.text)).toEqual(sent.slice(5, 15).map((m) => m.text));
    const desc = (await s.svc.threads.listMessages({ threadId: thread!.id, limit: '3', offset: '28' })).messages;
    expect(desc.map((m) => m.text)).toEqual(['m1', 'm0']);
    const beyond = (await s.svc.threads.listMessages({ threadId: thread!.id, offset: '30' })).messages;
    expect(beyond).toEqual([]);
  });

  it('sent_at strictly increases with acceptance order', async () => {
    const { thread } = await s.svc.threads.createThread({ groupId: 'gs', topic: 't' });
    const sent = await Promise.all(
      Array.from({ length: 200 }, (_, i) => s.svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: `${i}` })),
    );
    const bySeq = sent.map((r) => r.message!).sort((a, b) => Number(a.seq) - Number(b.seq));
    expect(bySeq.map((m) => m.seq)).toEqual(bySeq.map((_, i) => String(i + 1)));
    for (let i = 1; i < bySeq.length; i++) expect(bySeq[i].sentAt > bySeq[i - 1].sentAt).toBe(true);
  });

  it('a client id makes CreateMessage idempotent, also for 50 concurrent retries', async () => {
    const { thread } = await s.svc.threads.createThread({ groupId: 'gi', topic: 't' });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.svc.threads.createMessage({ threadId: thread!.id, id: 'client-1', authorId: `a${i}`, text: `text ${i}` }),
      ),
    );
    const first = results[0].message;
    for (const r of results) expect(r.message).toEqual(first);
    const list = (await s.svc.threads.listMessages({ threadId: thread!.id })).messages;
    expect(list).toEqual([first]);
    // A later retry with another text returns the stored message unchanged.
    const again = await s.svc.threads.createMessage({ threadId: thread!.id, id: 'client-1', authorId: 'z', text: 'changed' });
    expect(again.message).toEqual(first);
  });
});

describe('ListThreads / DeleteThread / RecentMessages', () => {
  it('lists a group newest first, paged, and only that group', async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await s.svc.threads.createThread({ groupId: 'gl', topic: `t${i}` })).thread!);
    await s.svc.threads.createThread({ groupId: 'gl-other', topic: 'x' });
    const list = (await s.svc.threads.listThreads({ groupId: 'gl' })).threads;
    expect(list).toEqual([...made].reverse());
    expect((await s.svc.threads.listThreads({ groupId: 'gl', limit: '2', offset: '1' })).threads).toEqual([made[3], made[2]]);
    expect((await s.svc.threads.listThreads({ groupId: 'gl', order: 'asc', limit: '2' })).threads).toEqual([made[0], made[1]]);
    expect((await s.svc.threads.listThreads({ groupId: 'empty' })).threads).toEqual([]);
  });

  it('DeleteThread removes the thread, its messages and its group entry; absent ids succeed', async () => {
    const { thread } = await s.svc.threads.createThread({ groupId: 'gd', topic: 't' });
    await s.svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'x' });
    expect(await s.svc.threads.deleteThread({ id: thread!.id })).toEqual({});
    expect(await failure(s.svc.threads.readThread({ id: thread!.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.threads.listMessages({ threadId: thread!.id }))).toMatchObject({ reason: 'NOT_FOUND' });
    expect(await failure(s.svc.threads.createMessage({ threadId: thread!.id, authorId: 'a', text: 'x' }))).toMatchObject({
      reason: 'NOT_FOUND',
    });
    expect((await s.svc.threads.listThreads({ groupId: 'gd' })).threads).toEqual([]);
    expect(await s.svc.threads.deleteThread({ id: thread!.id })).toEqual({});
    expect(await s.svc.threads.deleteThread({ id: 'never-existed' })).toEqual({});
    const raw = s.redis.client();
    expect(await raw.keys(`*${thread!.id}*`)).toEqual([]);
  });

  it('RecentMessages: latest N per listed thread, newest first, absent ids skipped', async () => {
    const a = (await s.svc.threads.createThread({ groupId: 'gr', topic: 'a' })).thread!;
    const b = (await s.svc.threads.createThread({ groupId: 'gr', topic: 'b' })).thread!;
    for (let i = 0; i < 4; i++) {
      await s.svc.threads.createMessage({ threadId: a.id, authorId: 'u', text: `a${i}` });
      await s.svc.threads.createMessage({ threadId: b.id, authorId: 'u', text: `b${i}` });
    }
    const listed = await s.svc.threads.recentMessages({ threadIds: [a.id, 'absent', b.id], limitPerThread: '2' });
    expect(listed.messages.map((m) => m.text)).toEqual(['a3', 'a2', 'b3', 'b2']);
    const byGroup = await s.svc.threads.recentMessages({ groupId: 'gr', limitPerThread: '1' });
    expect(byGroup.messages.map((m) => m.text)).toEqual(['b3', 'a3']);
    const dflt = await s.svc.threads.recentMessages({ threadIds: [a.id] });
    expect(dflt.messages).toHaveLength(4);
  });
});
