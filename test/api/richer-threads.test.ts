/**
 * A richer thread over gRPC (README, "A richer thread"; contract 7.8):
 * created_by, sub-threads, participants (add, replace, remove, list by join
 * order, READ_ONLY, MAX_PARTICIPANTS), the trash (soft delete, restore,
 * purge, THREAD_DELETED, NOT_DELETED, include_deleted) and ListThreads'
 * filters, each bad input refused naming its field with nothing written.
 */
import { status } from '@grpc/grpc-js';
import { containerKeys, groupKeys, userReadIndexKey } from '../../src/store/keys';
import { defaultLimits } from '../../src/core/limits';
import { clients, failure } from '../helpers/grpc';
import { startRedis, type TestRedis } from '../helpers/redis';
import { OTHER_TOKEN, startService, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;
beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url, { ...defaultLimits, MAX_PARTICIPANTS: 5 });
});
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

const unique = (p: string) => `${p}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}`;

it('CreateThread takes created_by, participants and a parent message; ReadThread returns them, lists leave participants out', async () => {
  const group = unique('g');
  const root = (await svc.threads.createThread({ groupId: group, topic: 'root', createdBy: 'ann' })).thread!;
  const m = (await svc.threads.createMessage({ threadId: root.id, authorId: 'ann', text: 'branch here' })).message!;
  const sub = (
    await svc.threads.createThread({
      groupId: group,
      topic: 'sub',
      createdBy: 'bob',
      parentThreadId: root.id,
      parentMessageId: m.id,
      participants: [
        { id: 'bob', type: '', name: 'Bob', role: '', metadata: {}, joinedAt: '' },
        { id: 'bot', type: 'agent', name: 'Helper', role: 'read_only', metadata: { model: 'x' }, joinedAt: '' },
      ],
    })
  ).thread!;
  expect(sub).toMatchObject({ createdBy: 'bob', parentThreadId: root.id, parentMessageId: m.id, deletedAt: '' });
  expect(sub.participants.map((p) => [p.id, p.type, p.role, p.name])).toEqual([
    ['bob', 'user', 'read_write', 'Bob'],
    ['bot', 'agent', 'read_only', 'Helper'],
  ]);
  expect(sub.participants[0].joinedAt).toBe(sub.createdAt);
  const read = (await svc.threads.readThread({ id: sub.id })).thread!;
  expect(read.participants.map((p) => p.id)).toEqual(['bob', 'bot']);
  expect(read.participants[1].metadata).toEqual({ model: 'x' });
  const listed = (await svc.threads.listThreads({ groupId: group })).threads;
  expect(listed.map((t) => t.id)).toEqual([sub.id, root.id]);
  expect(listed.every((t) => t.participants.length === 0)).toBe(true);
  expect(listed[0].createdBy).toBe('bob');
});

it('a parent must be a message of a live thread of the same group, and both ids come together', async () => {
  const group = unique('g');
  const root = (await svc.threads.createThread({ groupId: group, topic: 'root' })).thread!;
  const m = (await svc.threads.createMessage({ threadId: root.id, authorId: 'a', text: 'x' })).message!;
  const elsewhere = (await svc.threads.createThread({ groupId: unique('other'), topic: 'o' })).thread!;
  const count = async () => (await svc.threads.listThreads({ groupId: group })).threads.length;
  expect(await failure(svc.threads.createThread({ groupId: group, topic: 't', parentThreadId: root.id }))).toMatchObject({ code: status.INVALID_ARGUMENT, field: 'parent_message_id' });
  expect(await failure(svc.threads.createThread({ groupId: group, topic: 't', parentMessageId: m.id }))).toMatchObject({ code: status.INVALID_ARGUMENT, field: 'parent_thread_id' });
  expect(await failure(svc.threads.createThread({ groupId: group, topic: 't', parentThreadId: root.id, parentMessageId: 'nope' }))).toMatchObject({ code: status.NOT_FOUND, field: 'parent_message_id' });
  expect(await failure(svc.threads.createThread({ groupId: group, topic: 't', parentThreadId: elsewhere.id, parentMessageId: m.id }))).toMatchObject({ code: status.NOT_FOUND, field: 'parent_thread_id' });
  await svc.threads.softDeleteThread({ id: root.id });
  expect(await failure(svc.threads.createThread({ groupId: group, topic: 't', parentThreadId: root.id, parentMessageId: m.id }))).toMatchObject({ code: status.NOT_FOUND, field: 'parent_thread_id' });
  // Another namespace's thread is not there at all.
  const other = clients(svc.address, OTHER_TOKEN);
  try {
    await svc.threads.restoreThread({ id: root.id });
    expect(await failure(other.threads.createThread({ groupId: group, topic: 't', parentThreadId: root.id, parentMessageId: m.id }))).toMatchObject({ code: status.NOT_FOUND });
    expect((await other.threads.listThreads({ groupId: group })).threads).toEqual([]);
  } finally {
    other.close();
  }
  expect(await count()).toBe(1);
});

it('AddParticipants adds in the order given or replaces keeping joined_at; RemoveParticipants skips absent ids; ListParticipants pages by join order', async () => {
  const t = (await svc.threads.createThread({ groupId: unique('g'), topic: 't' })).thread!;
  const p = (id: string, extra: object = {}) => ({ id, type: '', name: id.toUpperCase(), role: '', metadata: {}, joinedAt: '', ...extra });
  const added = (await svc.threads.addParticipants({ threadId: t.id, participants: [p('c'), p('a'), p('b')] })).thread!;
  expect(added.participants.map((x) => x.id)).toEqual(['c', 'a', 'b']);
  expect(added.updatedAt > t.updatedAt).toBe(true);
  const joined = added.participants[1].joinedAt;
  const replaced = (await svc.threads.addParticipants({ threadId: t.id, participants: [p('a', { name: 'Anna', type: 'tool', role: 'read_only' }), p('d')] })).thread!;
  expect(replaced.participants.map((x) => [x.id, x.name])).toEqual([
    ['c', 'C'],
    ['a', 'Anna'],
    ['b', 'B'],
    ['d', 'D'],
  ]);
  expect(replaced.participants[1]).toMatchObject({ type: 'tool', role: 'read_only', joinedAt: joined });
  const removed = (await svc.threads.removeParticipants({ threadId: t.id, participantIds: ['b', 'zz'] })).thread!;
  expect(removed.participants.map((x) => x.id)).toEqual(['c', 'a', 'd']);

  const first = await svc.threads.listParticipants({ threadId: t.id, limit: '2' });
  expect(first.participants.map((x) => x.id)).toEqual(['c', 'a']);
  expect(first.hasMore).toBe(true);
  const rest = await svc.threads.listParticipants({ threadId: t.id, limit: '2', after: first.nextCursor });
  expect(rest.participants.map((x) => x.id)).toEqual(['d']);
  expect(rest).toMatchObject({ hasMore: false, nextCursor: '' });
  const back = await svc.threads.listParticipants({ threadId: t.id, limit: '5', before: rest.prevCursor });
  expect(back.participants.map((x) => x.id)).toEqual(['c', 'a']);
  // A cursor of another list is not this one's.
  const messages = await svc.threads.listMessages({ threadId: t.id });
  expect(await failure(svc.threads.listParticipants({ threadId: t.id, after: messages.feedCursor }))).toMatchObject({ reason: 'INVALID_CURSOR' });
});

it('READ_ONLY participants cannot post; others, participants or not, can', async () => {
  const t = (
    await svc.threads.createThread({
      groupId: unique('g'),
      topic: 't',
      participants: [{ id: 'viewer', type: 'user', name: '', role: 'read_only', metadata: {}, joinedAt: '' }],
    })
  ).thread!;
  expect(await failure(svc.threads.createMessage({ threadId: t.id, authorId: 'viewer', text: 'hi' }))).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'READ_ONLY' });
  await svc.threads.createMessage({ threadId: t.id, authorId: 'passer-by', text: 'hi' });
  await svc.threads.addParticipants({ threadId: t.id, participants: [{ id: 'viewer', type: '', name: '', role: 'read_write', metadata: {}, joinedAt: '' }] });
  await svc.threads.createMessage({ threadId: t.id, authorId: 'viewer', text: 'now I can' });
  expect((await svc.threads.listMessages({ threadId: t.id })).messages).toHaveLength(2);
});

it('participant input is checked field by field, MAX_PARTICIPANTS included, and nothing is written', async () => {
  const t = (await svc.threads.createThread({ groupId: unique('g'), topic: 't' })).thread!;
  const p = (id: string, extra: object = {}) => ({ id, type: '', name: '', role: '', metadata: {}, joinedAt: '', ...extra });
  expect(await failure(svc.threads.addParticipants({ threadId: t.id, participants: [] }))).toMatchObject({ reason: 'MISSING_PARTICIPANTS' });
  expect(await failure(svc.threads.addParticipants({ threadId: '', participants: [p('a')] }))).toMatchObject({ reason: 'MISSING_THREAD_ID' });
  expect(await failure(svc.threads.addParticipants({ threadId: t.id, participants: [p('a'), p('')] }))).toMatchObject({ reason: 'MISSING_ID', field: 'participants[1].id' });
  expect(await failure(svc.threads.addParticipants({ threadId: t.id, participants: [p('a', { type: 'robot' })] }))).toMatchObject({ code: status.INVALID_ARGUMENT, field: 'participants[0].type' });
  expect(await failure(svc.threads.addParticipants({ threadId: t.id, participants: [p('a', { role: 'owner' })] }))).toMatchObject({ code: status.INVALID_ARGUMENT, field: 'participants[0].role' });
  expect(await failure(svc.threads.addParticipants({ threadId: t.id, participants: [p('a', { metadata: { '': 'x' } })] }))).toMatchObject({ field: 'participants[0].metadata' });
  expect(await failure(svc.threads.removeParticipants({ threadId: t.id, participantIds: [] }))).toMatchObject({ reason: 'MISSING_PARTICIPANT_IDS' });
  expect(await failure(svc.threads.addParticipants({ threadId: 'absent', participants: [p('a')] }))).toMatchObject({ code: status.NOT_FOUND });
  await svc.threads.addParticipants({ threadId: t.id, participants: ['a', 'b', 'c', 'd'].map((id) => p(id)) });
  // MAX_PARTICIPANTS is 5 in this suite: two new ones would make 6; a replaced one is no new one.
  expect(await failure(svc.threads.addParticipants({ threadId: t.id, participants: [p('a'), p('e'), p('f')] }))).toMatchObject({ code: status.INVALID_ARGUMENT, field: 'participants' });
  expect((await svc.threads.readThread({ id: t.id })).thread!.participants.map((x) => x.id)).toEqual(['a', 'b', 'c', 'd']);
  await svc.threads.addParticipants({ threadId: t.id, participants: [p('a'), p('e')] });
  expect(await failure(svc.threads.createThread({ groupId: 'g', topic: 't', participants: ['1', '2', '3', '4', '5', '6'].map((id) => p(id)) }))).toMatchObject({ field: 'participants' });
});

it('the trash: soft delete hides a thread from default lists and refuses writes; restore brings it back whole; purge needs the trash', async () => {
  const group = unique('g');
  const keep = (await svc.threads.createThread({ groupId: group, topic: 'keep' })).thread!;
  const t = (await svc.threads.createThread({ groupId: group, topic: 'trash me', participants: [{ id: 'u', type: '', name: '', role: '', metadata: {}, joinedAt: '' }] })).thread!;
  const m = (await svc.threads.createMessage({ threadId: t.id, authorId: 'u', text: 'hello' })).message!;
  await svc.threads.markRead({ threadId: t.id, userId: 'reader', messageId: m.id });
  const feedBefore = (await svc.threads.listMessages({ threadId: t.id })).feedCursor;

  const trashed = (await svc.threads.softDeleteThread({ id: t.id })).thread!;
  expect(trashed.deletedAt).not.toBe('');
  expect(trashed.updatedAt >= trashed.deletedAt).toBe(true);
  expect((await svc.threads.softDeleteThread({ id: t.id })).thread!.deletedAt).toBe(trashed.deletedAt);
  expect((await svc.threads.readThread({ id: t.id })).thread!.deletedAt).toBe(trashed.deletedAt);
  const ids = async (include?: string) => (await svc.threads.listThreads({ groupId: group, includeDeleted: include ?? '' })).threads.map((x) => x.id);
  expect(await ids()).toEqual([keep.id]);
  expect(await ids('false')).toEqual([keep.id]);
  expect(await ids('true')).toEqual([t.id, keep.id]);
  expect(await ids('only')).toEqual([t.id]);
  expect((await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at', includeDeleted: 'only' })).threads.map((x) => x.id)).toEqual([t.id]);
  expect((await svc.threads.listThreads({ groupId: group, orderBy: 'last_message_at' })).threads.map((x) => x.id)).toEqual([keep.id]);
  expect(await failure(svc.threads.listThreads({ groupId: group, includeDeleted: 'yes' }))).toMatchObject({ field: 'include_deleted' });
  for (const write of [
    () => svc.threads.createMessage({ threadId: t.id, authorId: 'u', text: 'no' }),
    () => svc.threads.updateMessage({ threadId: t.id, id: m.id, text: 'no' }),
    () => svc.threads.deleteMessage({ threadId: t.id, id: m.id }),
    () => svc.threads.updateThread({ id: t.id, topic: 'no' }),
    () => svc.threads.addParticipants({ threadId: t.id, participants: [{ id: 'v', type: '', name: '', role: '', metadata: {}, joinedAt: '' }] }),
    () => svc.threads.removeParticipants({ threadId: t.id, participantIds: ['u'] }),
  ]) {
    expect(await failure(write())).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'THREAD_DELETED' });
  }
  expect(await failure(svc.threads.purgeThread({ id: keep.id }))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'NOT_DELETED' });

  const restored = (await svc.threads.restoreThread({ id: t.id })).thread!;
  expect(restored).toMatchObject({ deletedAt: '', messageCount: '1' });
  expect(restored.participants.map((x) => x.id)).toEqual(['u']);
  expect(await ids()).toEqual([t.id, keep.id]);
  expect((await svc.threads.readThread({ id: t.id, userId: 'reader' })).thread!.unreadCount).toBe('0');
  expect((await svc.threads.listMessages({ threadId: t.id, after: '' })).messages.map((x) => x.text)).toEqual(['hello']);
  expect((await svc.threads.listMessages({ threadId: t.id })).feedCursor).toBe(feedBefore);

  for (const call of [() => svc.threads.softDeleteThread({ id: 'absent' }), () => svc.threads.restoreThread({ id: 'absent' }), () => svc.threads.purgeThread({ id: 'absent' })]) {
    expect(await failure(call())).toMatchObject({ code: status.NOT_FOUND });
  }
});

it('purge removes every key of the thread and its index entries; DeleteThread does the same also for a trashed thread', async () => {
  const client = redis.client();
  try {
    const group = unique('purge');
    const p = (id: string) => ({ id, type: '', name: '', role: '', metadata: {}, joinedAt: '' });
    const root = (await svc.threads.createThread({ groupId: group, topic: 'root' })).thread!;
    const m = (await svc.threads.createMessage({ threadId: root.id, authorId: 'a', text: 'x' })).message!;
    const make = async () => {
      const t = (await svc.threads.createThread({ groupId: group, topic: 't', createdBy: 'maker', parentThreadId: root.id, parentMessageId: m.id, participants: [p('x'), p('y')] })).thread!;
      await svc.threads.createMessage({ threadId: t.id, authorId: 'x', text: 'hi' });
      await svc.threads.markRead({ threadId: t.id, userId: 'y', messageId: '' });
      return t.id;
    };
    const keysOf = async (id: string) => {
      const k = containerKeys('default', 'thread', id);
      const g = groupKeys('default', 'thread', group);
      const own = await client.exists(k.meta, k.order, k.deleted, k.bodies, k.feed, k.reads, k.participants, k.joinOrder);
      const indexed = await Promise.all([g.index, g.trash, g.activity, g.trashActivity, g.updated, g.byCreator('maker'), g.byParent(m.id), g.byParticipant('x'), g.byParticipant('y')].map((key) => client.zscore(key, id)));
      return { own, indexed: indexed.filter((s) => s !== null).length };
    };
    const purged = await make();
    expect(await keysOf(purged)).toEqual({ own: 7, indexed: 7 });
    await svc.threads.softDeleteThread({ id: purged });
    await svc.threads.purgeThread({ id: purged });
    expect(await keysOf(purged)).toEqual({ own: 0, indexed: 0 });
    expect(await failure(svc.threads.readThread({ id: purged }))).toMatchObject({ code: status.NOT_FOUND });

    const deleted = await make();
    await svc.threads.softDeleteThread({ id: deleted });
    await svc.threads.deleteThread({ id: deleted });
    expect(await keysOf(deleted)).toEqual({ own: 0, indexed: 0 });
    // Only the root's keys and entries are left in the group (and its author's read index).
    const g = groupKeys('default', 'thread', group);
    const left = await client.keys(`*${group}*`);
    expect(left.sort()).toEqual([g.activity, g.index, g.topLevel, g.updated, userReadIndexKey('default', 'a', 'thread', group)].sort());
  } finally {
    client.disconnect();
  }
});

it('ListThreads filters combine with AND and page by cursor in creation order', async () => {
  const group = unique('f');
  const p = (id: string) => ({ id, type: '', name: '', role: '', metadata: {}, joinedAt: '' });
  const root = (await svc.threads.createThread({ groupId: group, topic: 'root', createdBy: 'ann', participants: [p('pat')] })).thread!;
  const m = (await svc.threads.createMessage({ threadId: root.id, authorId: 'ann', text: 'x' })).message!;
  const subs: string[] = [];
  for (let i = 0; i < 6; i++) {
    const t = (
      await svc.threads.createThread({
        groupId: group,
        topic: `s${i}`,
        createdBy: i % 2 === 0 ? 'ann' : 'bob',
        parentThreadId: root.id,
        parentMessageId: m.id,
        participants: i % 3 === 0 ? [p('pat')] : [],
      })
    ).thread!;
    subs.push(t.id);
  }
  const list = async (req: object) => (await svc.threads.listThreads({ groupId: group, ...req })).threads.map((t) => t.id);
  expect(await list({ parentMessageId: 'null' })).toEqual([root.id]);
  expect(await list({ parentMessageId: m.id })).toEqual([...subs].reverse());
  expect(await list({ participantId: 'pat' })).toEqual([subs[3], subs[0], root.id]);
  expect(await list({ createdBy: 'ann', parentMessageId: m.id })).toEqual([subs[4], subs[2], subs[0]]);
  expect(await list({ createdBy: 'ann', participantId: 'pat', order: 'asc' })).toEqual([root.id, subs[0]]);
  expect(await list({ ids: [subs[1], subs[2], 'absent'], createdBy: 'bob' })).toEqual([subs[1]]);
  // Walking by cursor visits each match once, in order; before: comes back.
  const first = await svc.threads.listThreads({ groupId: group, parentMessageId: m.id, limit: '4' });
  expect(first.threads.map((t) => t.id)).toEqual([subs[5], subs[4], subs[3], subs[2]]);
  expect(first.hasMore).toBe(true);
  const second = await svc.threads.listThreads({ groupId: group, parentMessageId: m.id, limit: '4', after: first.nextCursor });
  expect(second.threads.map((t) => t.id)).toEqual([subs[1], subs[0]]);
  expect(second).toMatchObject({ hasMore: false, nextCursor: '' });
  const back = await svc.threads.listThreads({ groupId: group, parentMessageId: m.id, limit: '2', before: second.prevCursor });
  expect(back.threads.map((t) => t.id)).toEqual([subs[3], subs[2]]);
  expect(back.hasMore).toBe(true);
  // Times: exclusive bounds, any offset.
  const all = (await svc.threads.listThreads({ groupId: group, order: 'asc' })).threads;
  const after = all[2].createdAt;
  expect(await list({ createdAfter: after, order: 'asc' })).toEqual(all.slice(3).map((t) => t.id));
  expect(await list({ createdBefore: all[2].createdAt, order: 'asc' })).toEqual(all.slice(0, 2).map((t) => t.id));
  const shifted = new Date(Date.parse(after) + 3600_000).toISOString().replace('Z', '+01:00').replace(/\.\d+/, `.${after.slice(20, 29)}`);
  expect(await list({ createdAfter: shifted, order: 'asc' })).toEqual(all.slice(3).map((t) => t.id));
  const lastChange = all.map((t) => t.updatedAt).sort().at(-1)!;
  await svc.threads.updateThread({ id: subs[1], topic: 'touched' });
  const touched = (await svc.threads.readThread({ id: subs[1] })).thread!;
  expect(await list({ updatedAfter: lastChange, parentMessageId: m.id })).toEqual([subs[1]]);
  expect(await list({ updatedBefore: touched.updatedAt, createdBy: 'bob' })).toEqual([subs[5], subs[3]]);
  // Bad filters name their field; filters page in creation order only.
  expect(await failure(svc.threads.listThreads({ groupId: group, createdAfter: '2026-02-30T00:00:00Z' }))).toMatchObject({ field: 'created_after' });
  expect(await failure(svc.threads.listThreads({ groupId: group, updatedBefore: 'yesterday' }))).toMatchObject({ field: 'updated_before' });
  expect(await failure(svc.threads.listThreads({ groupId: group, createdBy: 'ann', orderBy: 'last_message_at' }))).toMatchObject({ field: 'order_by' });
  expect(await failure(svc.threads.listThreads({ groupId: group, ids: Array.from({ length: 101 }, (_, i) => `i${i}`) }))).toMatchObject({ reason: 'TOO_MANY_IDS' });
});

it('racing participant calls: every add lands once with its own join position, and a filter by participant agrees with the thread whatever order the index follow-ups ran in', async () => {
  const group = unique('race');
  const t = (await svc.threads.createThread({ groupId: group, topic: 't' })).thread!;
  const p = (id: string, name = '') => ({ id, type: '', name, role: '', metadata: {}, joinedAt: '' });
  // Distinct ids at once (MAX_PARTICIPANTS is 5 here): all join, positions unique.
  await Promise.all(['a', 'b', 'c', 'd'].map((id) => svc.threads.addParticipants({ threadId: t.id, participants: [p(id)] })));
  const first = await svc.threads.listParticipants({ threadId: t.id, limit: '10' });
  expect(first.participants.map((x) => x.id).sort()).toEqual(['a', 'b', 'c', 'd']);
  // The same id added, renamed and removed at once, many times over.
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      i % 3 === 2 ? svc.threads.removeParticipants({ threadId: t.id, participantIds: ['e'] }) : svc.threads.addParticipants({ threadId: t.id, participants: [p('e', `n${i}`)] }),
    ),
  );
  const whole = (await svc.threads.readThread({ id: t.id })).thread!;
  const hasE = whole.participants.some((x) => x.id === 'e');
  expect((await svc.threads.listThreads({ groupId: group, participantId: 'e' })).threads.map((x) => x.id)).toEqual(hasE ? [t.id] : []);
  for (const id of ['a', 'b', 'c', 'd']) expect((await svc.threads.listThreads({ groupId: group, participantId: id })).threads.map((x) => x.id)).toEqual([t.id]);
  // joined_at of the first four never moved.
  const again = (await svc.threads.listParticipants({ threadId: t.id, limit: '10' })).participants.filter((x) => x.id !== 'e');
  expect(again).toEqual(first.participants);
});

it('GetUnread counts the group threads a user takes part in as well as those they read in, and not those in the trash', async () => {
  const group = unique('unread');
  const p = (id: string) => ({ id, type: '', name: '', role: '', metadata: {}, joinedAt: '' });
  const joined = (await svc.threads.createThread({ groupId: group, topic: 'j', participants: [p('zoe')] })).thread!;
  const read = (await svc.threads.createThread({ groupId: group, topic: 'r' })).thread!;
  const other = (await svc.threads.createThread({ groupId: group, topic: 'o' })).thread!;
  for (const t of [joined, read, other]) {
    await svc.threads.createMessage({ threadId: t.id, authorId: 'x', text: '1' });
    await svc.threads.createMessage({ threadId: t.id, authorId: 'x', text: '2' });
  }
  const first = (await svc.threads.listMessages({ threadId: read.id, order: 'asc' })).messages[0];
  await svc.threads.markRead({ threadId: read.id, userId: 'zoe', messageId: first.id });
  const counts = async () => Object.fromEntries((await svc.threads.getUnread({ userId: 'zoe', groupId: group })).counts.map((c) => [c.id, c.unreadCount]));
  expect(await counts()).toEqual({ [joined.id]: '2', [read.id]: '1' });
  await svc.threads.softDeleteThread({ id: joined.id });
  expect(await counts()).toEqual({ [read.id]: '1' });
  await svc.threads.restoreThread({ id: joined.id });
  await svc.threads.removeParticipants({ threadId: joined.id, participantIds: ['zoe'] });
  expect(await counts()).toEqual({ [read.id]: '1' });
});

it('updated_after finds a thread after each kind of change (message, edit, participants, trash, topic), from the group update order', async () => {
  const group = unique('upd');
  const t = (await svc.threads.createThread({ groupId: group, topic: 't' })).thread!;
  const quiet = (await svc.threads.createThread({ groupId: group, topic: 'quiet' })).thread!;
  const since = async () => (await svc.threads.readThread({ id: quiet.id })).thread!.updatedAt;
  const changed = async (mark: string) => (await svc.threads.listThreads({ groupId: group, updatedAfter: mark, includeDeleted: 'true' })).threads.map((x) => x.id);
  let mark = await since();
  const m = (await svc.threads.createMessage({ threadId: t.id, authorId: 'a', text: 'x' })).message!;
  expect(await changed(mark)).toEqual([t.id]);
  for (const change of [
    () => svc.threads.updateMessage({ threadId: t.id, id: m.id, text: 'y' }),
    () => svc.threads.addParticipants({ threadId: t.id, participants: [{ id: 'p', type: '', name: '', role: '', metadata: {}, joinedAt: '' }] }),
    () => svc.threads.updateThread({ id: t.id, topic: 'z' }),
    () => svc.threads.softDeleteThread({ id: t.id }),
  ]) {
    mark = (await svc.threads.readThread({ id: t.id })).thread!.updatedAt;
    expect(await changed(mark)).toEqual([]);
    await change();
    expect(await changed(mark)).toEqual([t.id]);
  }
  // The thread in the trash is left out unless asked for.
  expect((await svc.threads.listThreads({ groupId: group, updatedAfter: mark })).threads).toEqual([]);
});
