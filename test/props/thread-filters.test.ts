/**
 * ListThreads filters and the trash against a model (README, "A richer
 * thread"): for random combinations of `ids`, `participant_id`, `created_by`,
 * `parent_message_id`, the four time bounds, `include_deleted`, `order` and
 * `limit`, walking `after: next_cursor` visits exactly the model's matches,
 * in creation order, each once, and `before: prev_cursor` from the last page
 * gives back the items that precede it.
 */
import fc from 'fast-check';
import { startRedis, type TestRedis } from '../helpers/redis';
import { startService, type TestService } from '../helpers/service';

let redis: TestRedis;
let svc: TestService;

interface ModelThread {
  id: string;
  createdBy: string;
  parentMessageId: string;
  participants: string[];
  trashed: boolean;
  createdAt: string;
  updatedAt: string;
}

const GROUP = 'filters';
const threads: ModelThread[] = [];
const roots: { thread: string; message: string }[] = [];
const PEOPLE = ['p1', 'p2', 'p3'];

beforeAll(async () => {
  redis = await startRedis();
  svc = await startService(redis.url);
  // Two roots, each with a message to branch from (they are threads of the group too).
  for (const r of ['r1', 'r2']) {
    const t = (await svc.threads.createThread({ groupId: GROUP, topic: r, createdBy: 'ann' })).thread!;
    const m = (await svc.threads.createMessage({ threadId: t.id, authorId: 'ann', text: r })).message!;
    roots.push({ thread: t.id, message: m.id });
  }
  // Thirty more, with attributes from a fixed seed, created one after another (creation order = list order).
  const rand = fc.sample(
    fc.record({
      createdBy: fc.constantFrom('ann', 'bob', ''),
      parent: fc.constantFrom(-1, 0, 1),
      participants: fc.subarray(PEOPLE),
      trashed: fc.boolean(),
      touched: fc.boolean(),
    }),
    { numRuns: 30, seed: 17 },
  );
  for (const [i, a] of rand.entries()) {
    const parent = a.parent >= 0 ? roots[a.parent] : undefined;
    await svc.threads.createThread({
      groupId: GROUP,
      topic: `t${i}`,
      createdBy: a.createdBy,
      parentThreadId: parent?.thread ?? '',
      parentMessageId: parent?.message ?? '',
      participants: a.participants.map((id) => ({ id, type: '', name: '', role: '', metadata: {}, joinedAt: '' })),
    });
  }
  const created = (await svc.threads.listThreads({ groupId: GROUP, order: 'asc', limit: '100' })).threads;
  for (const [i, t] of created.entries()) {
    const a = i < 2 ? undefined : rand[i - 2];
    if (a?.touched) await svc.threads.updateThread({ id: t.id, topic: 'touched' });
    if (a?.trashed) await svc.threads.softDeleteThread({ id: t.id });
  }
  for (const [i, t] of created.entries()) {
    const now = (await svc.threads.readThread({ id: t.id })).thread!;
    threads.push({
      id: t.id,
      createdBy: now.createdBy,
      parentMessageId: now.parentMessageId,
      participants: now.participants.map((p) => p.id),
      trashed: now.deletedAt !== '',
      createdAt: now.createdAt,
      updatedAt: now.updatedAt,
    });
    expect(now.createdBy).toBe(i < 2 ? 'ann' : rand[i - 2].createdBy);
  }
});
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

/** A time bound: one of the threads' own times (bounds are exclusive), or none. */
const bound = (pick: (t: ModelThread) => string) => fc.option(fc.nat({ max: 31 }).map((i) => pick(threads[i])), { nil: undefined });

const query = fc.record({
  participantId: fc.option(fc.constantFrom(...PEOPLE, 'nobody'), { nil: undefined }),
  createdBy: fc.option(fc.constantFrom('ann', 'bob', 'cy'), { nil: undefined }),
  parent: fc.option(fc.constantFrom('null', 'r1', 'r2'), { nil: undefined }),
  ids: fc.option(fc.uniqueArray(fc.nat({ max: 33 }), { maxLength: 8 }), { nil: undefined }),
  createdAfter: bound((t) => t.createdAt),
  createdBefore: bound((t) => t.createdAt),
  updatedAfter: bound((t) => t.updatedAt),
  updatedBefore: bound((t) => t.updatedAt),
  include: fc.constantFrom('', 'false', 'true', 'only'),
  order: fc.constantFrom('asc', 'desc', ''),
  limit: fc.integer({ min: 1, max: 7 }),
});
type Query = typeof query extends fc.Arbitrary<infer Q> ? Q : never;

function modelMatches(q: Query): string[] {
  const parentId = q.parent === undefined ? undefined : q.parent === 'null' ? '' : roots[q.parent === 'r1' ? 0 : 1].message;
  const ids = q.ids?.map((i) => threads[i]?.id ?? `absent-${i}`);
  const kept = threads.filter(
    (t) =>
      (q.include === 'true' || (q.include === 'only') === t.trashed) &&
      (q.participantId === undefined || t.participants.includes(q.participantId)) &&
      (q.createdBy === undefined || t.createdBy === q.createdBy) &&
      (parentId === undefined || t.parentMessageId === parentId) &&
      (ids === undefined || ids.length === 0 || ids.includes(t.id)) &&
      (q.createdAfter === undefined || t.createdAt > q.createdAfter) &&
      (q.createdBefore === undefined || t.createdAt < q.createdBefore) &&
      (q.updatedAfter === undefined || t.updatedAt > q.updatedAfter) &&
      (q.updatedBefore === undefined || t.updatedAt < q.updatedBefore),
  );
  const inOrder = kept.map((t) => t.id);
  return q.order === 'asc' ? inOrder : inOrder.reverse();
}

function request(q: Query) {
  return {
    groupId: GROUP,
    participantId: q.participantId ?? '',
    createdBy: q.createdBy ?? '',
    parentMessageId: q.parent === undefined ? '' : q.parent === 'null' ? 'null' : roots[q.parent === 'r1' ? 0 : 1].message,
    ids: q.ids?.map((i) => threads[i]?.id ?? `absent-${i}`) ?? [],
    createdAfter: q.createdAfter ?? '',
    createdBefore: q.createdBefore ?? '',
    updatedAfter: q.updatedAfter ?? '',
    updatedBefore: q.updatedBefore ?? '',
    includeDeleted: q.include,
    order: q.order,
    limit: String(q.limit),
  };
}

it('walking a filtered list by cursor visits exactly the model’s matches, in order, once; before: comes back', async () => {
  await fc.assert(
    fc.asyncProperty(query, async (q) => {
      const expected = modelMatches(q);
      const req = request(q);
      const seen: string[] = [];
      let page = await svc.threads.listThreads(req);
      const pages = [page];
      for (let n = 0; n < 40; n++) {
        seen.push(...page.threads.map((t) => t.id));
        expect(page.hasMore).toBe(seen.length < expected.length);
        if (page.nextCursor === '') break;
        page = await svc.threads.listThreads({ ...req, after: page.nextCursor });
        pages.push(page);
      }
      expect(seen).toEqual(expected);
      // From the last non-empty page, `before` gives the items just ahead of it, in the list's order.
      const last = [...pages].reverse().find((p) => p.threads.length > 0);
      if (last) {
        const at = expected.indexOf(last.threads[0].id);
        const back = await svc.threads.listThreads({ ...req, before: last.prevCursor });
        expect(back.threads.map((t) => t.id)).toEqual(expected.slice(Math.max(0, at - q.limit), at));
        expect(back.hasMore).toBe(at - q.limit > 0);
      }
    }),
    { numRuns: 80 },
  );
});
