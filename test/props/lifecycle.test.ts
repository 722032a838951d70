/**
 * The message lifecycle against a model: random sequences of create,
 * update, delete, restore and purge on one thread, and after every step the
 * lists (default, include_deleted "true" and "only"), a walk by cursor, the
 * count kept in Redis and the store's invariants agree with the model; at
 * the end the live feed replays exactly the model's events. Then concurrent
 * edits and deletes of one message end in a state the model allows.
 */
import fc from 'fast-check';
import { containerKeys } from '../../src/store/keys';
import { subscribe } from '../helpers/feed';
import { failure } from '../helpers/grpc';
import { storeProblems } from '../helpers/invariants';
import { TEST_TOKEN } from '../helpers/service';
import { useStack } from '../helpers/stack';

const s = useStack();

interface ModelMessage {
  id: string;
  seq: number;
  text: string;
  metadata: Record<string, string>;
  deleted: boolean;
  purged: boolean;
}

type Command =
  | { op: 'create'; text: string }
  | { op: 'update'; at: number; text: string; metadata: Record<string, string> }
  | { op: 'delete' | 'restore' | 'purge'; at: number };

const word = fc.constantFrom('a', 'b', 'hello', 'Ünï', '😀', 'x y');
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('create' as const), text: word }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('update' as const),
      at: fc.nat(),
      text: fc.oneof(word, fc.constant('')),
      metadata: fc.dictionary(fc.constantFrom('k1', 'k2', 'k3'), fc.oneof(word, fc.constant('')), { maxKeys: 2 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('delete' as const, 'restore' as const, 'purge' as const), at: fc.nat() }) },
);

async function check(threadId: string, model: ModelMessage[]): Promise<void> {
  const t = s.svc.threads;
  const shown = (m: ModelMessage) => (m.deleted ? { id: m.id, seq: String(m.seq), text: '', metadata: {} } : { id: m.id, seq: String(m.seq), text: m.text, metadata: m.metadata });
  const list = async (includeDeleted: string) =>
    (await t.listMessages({ threadId, order: 'asc', limit: '100', includeDeleted })).messages.map((m) => ({ id: m.id, seq: m.seq, text: m.text, metadata: m.metadata }));
  expect(await list('')).toEqual(model.filter((m) => !m.deleted).map(shown));
  expect(await list('true')).toEqual(model.map(shown));
  expect(await list('only')).toEqual(model.filter((m) => m.deleted).map(shown));
  // A walk by cursor, two at a time, newest first, visits what the list shows once.
  const walked: string[] = [];
  for (let after = ''; ; ) {
    const page = await t.listMessages({ threadId, limit: '2', after });
    walked.push(...page.messages.map((m) => m.id));
    if (page.nextCursor === '') break;
    after = page.nextCursor;
  }
  expect(walked).toEqual(model.filter((m) => !m.deleted).map((m) => m.id).reverse());
  const count = await s.redis.client().hget(containerKeys('default', 'thread', threadId).meta, 'n');
  expect(Number(count)).toBe(model.filter((m) => !m.deleted).length);
}

it('lists, cursors, counts and the feed agree with the model after every step', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 14 }), async (commands) => {
      const t = s.svc.threads;
      const threadId = (await t.createThread({ groupId: 'model', topic: 't' })).thread!.id;
      const { feedCursor } = await t.listMessages({ threadId });
      const model: ModelMessage[] = [];
      const events: string[] = [];
      for (const c of commands) {
        if (c.op === 'create') {
          const m = (await t.createMessage({ threadId, authorId: 'a', text: c.text })).message!;
          model.push({ id: m.id, seq: model.length + 1, text: c.text, metadata: {}, deleted: false, purged: false });
          events.push(`created ${m.id}`);
        } else if (model.length > 0) {
          const m = model[c.at % model.length];
          const ref = { threadId, id: m.id };
          if (c.op === 'update') {
            const call = t.updateMessage({ ...ref, text: c.text, metadata: c.metadata });
            if (c.text === '' && Object.keys(c.metadata).length === 0) {
              expect((await failure(call)).reason).toBe('MISSING_TEXT');
            } else if (m.deleted) {
              expect((await failure(call)).reason).toBe('MESSAGE_DELETED');
            } else {
              await call;
              if (c.text !== '') m.text = c.text;
              for (const [k, v] of Object.entries(c.metadata)) {
                if (v === '') delete m.metadata[k];
                else m.metadata[k] = v;
              }
              events.push(`updated ${m.id}`);
            }
          } else if (c.op === 'delete') {
            await t.deleteMessage(ref);
            if (!m.deleted) events.push(`deleted ${m.id}`);
            m.deleted = true;
          } else if (c.op === 'restore') {
            if (m.purged) {
              expect((await failure(t.restoreMessage(ref))).reason).toBe('MESSAGE_PURGED');
            } else {
              await t.restoreMessage(ref);
              if (m.deleted) events.push(`restored ${m.id}`);
              m.deleted = false;
            }
          } else {
            await t.purgeMessage(ref);
            if (!m.purged) events.push(`purged ${m.id}`);
            m.purged = true;
            m.deleted = true;
            m.text = '';
            m.metadata = {};
          }
        }
        await check(threadId, model);
      }
      expect(await storeProblems(s.redis.client())).toEqual([]);
      const f = subscribe(s.svc.address, 'threads', { threadIds: [threadId], after: [feedCursor] }, TEST_TOKEN);
      try {
        await f.live();
        expect(f.events.filter((e) => e.type !== 'live').map((e) => `${e.type} ${e.message!.id}`)).toEqual(events);
      } finally {
        f.cancel();
      }
      await t.deleteThread({ id: threadId });
    }),
    { numRuns: 30 },
  );
});

it('concurrent edits and deletes of one message end in a state the model allows', async () => {
  const t = s.svc.threads;
  for (let round = 0; round < 20; round++) {
    const threadId = (await t.createThread({ groupId: 'race', topic: 't' })).thread!.id;
    const id = (await t.createMessage({ threadId, authorId: 'a', text: 'v0' })).message!.id;
    const ref = { threadId, id };
    const [edit, del] = await Promise.allSettled([t.updateMessage({ ...ref, text: 'v1' }), t.deleteMessage(ref)]);
    expect(del.status).toBe('fulfilled');
    // Either the edit came first (it applied, and a restore shows it) or the delete did (MESSAGE_DELETED).
    const restored = (await t.restoreMessage(ref)).message!;
    if (edit.status === 'fulfilled') {
      expect(restored.text).toBe('v1');
    } else {
      expect((await failure(Promise.reject(edit.reason))).reason).toBe('MESSAGE_DELETED');
      expect(restored.text).toBe('v0');
    }
    expect(await storeProblems(s.redis.client())).toEqual([]);
    await t.deleteThread({ id: threadId });
  }
});
